/**
 * The text of a run, written patient by patient as the outputs come (cli/cohort.ts hands them over
 * in the reader's order): CSV (the header, then one row each) or JSON (one object for a Bundle
 * file; for a folder, the array `JSON.stringify(assessments, null, 2)` would write, built from each
 * assessment's own text). Nothing is written before the first patient's output, so a run that
 * assesses nobody writes nothing: not a CSV header, not `[`.
 */
import { assessmentCsvHeader } from './csv.js';
import type { Output } from './output.js';

export class ReportWriter {
  /** Patients written so far (handed to the output, which may still hold them in its buffer). */
  written = 0;
  /** Patients whose output the system has taken in full: what a reader has, or will have, whatever happens next. */
  delivered = 0;

  constructor(
    private readonly output: Output,
    private readonly format: 'json' | 'csv',
    private readonly isFolder: boolean,
  ) {}

  /** Writes one patient's output (a CSV row or a JSON text); resolves once the output has taken it, waiting while it is slow. */
  add(text: string): Promise<void> {
    const first = this.written === 0;
    this.written++;
    return this.output.write(this.chunks(text, first), () => this.delivered++);
  }

  /** Whether what is written can be taken back ({@link restart}): a file, not standard output, a device or a pipe. */
  get restartable(): boolean {
    return this.output.restartable;
  }

  /** Starts over, for a run that reads the export again: what was written is dropped (a file's partial copy emptied). */
  restart(): void {
    if (this.written > 0) this.output.restart();
    this.written = 0;
  }

  /** Ends the text (a JSON array's `]`) and puts it in place (cli/output.ts); the caller calls it only once something was written. */
  async end(): Promise<void> {
    if (this.format === 'json' && this.isFolder) await this.output.write(['\n]\n']);
    await this.output.commit();
  }

  private chunks(text: string, first: boolean): string[] {
    if (this.format === 'csv') return first ? [`${assessmentCsvHeader()}\n`, `${text}\n`] : [`${text}\n`];
    if (!this.isFolder) return [`${text}\n`];
    // `[\n  A,\n  B\n]\n`, as JSON.stringify writes the array: each element indented by two spaces.
    return [`${first ? '[\n' : ',\n'}  ${text.replaceAll('\n', '\n  ')}`];
  }
}
