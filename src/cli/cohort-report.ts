/** What a cohort run says on stderr once it is over: the lines and resources left out, counted. */
import type { AssessmentIssue } from '../clinical/types.js';
import { screenResources } from '../fhir/resource-schemas.js';
import type { AssessResult } from './assess-worker.js';
import { heapMb, maxJsonValues } from './heap.js';
import type { ReadOptions } from './ndjson-stream.js';
import { printable } from './printable.js';

/** The line counting resources left out for their shape, naming the first (a Bundle's, or a cohort's). */
export function leftOutMessage(
  count: number,
  first: Pick<AssessmentIssue, 'resource' | 'message'> | undefined,
): string {
  const what = printable(`${first?.resource ?? ''} ${first?.message ?? ''}`);
  return `${count} resource(s) left out: not the shape the engine reads (first: ${what})\n`;
}

/** Lines left out for one reason: how many, and where the first was. */
class Tally {
  count = 0;
  first: string | undefined;

  constructor(private readonly message: (count: number, first: string) => string) {}

  readonly add = (where: string): void => {
    this.count++;
    this.first ??= where;
  };

  write(err: NodeJS.WritableStream): void {
    if (this.count > 0) err.write(`${this.message(this.count, printable(this.first ?? ''))}\n`);
  }
}

/** Lines the reader left out, said once at the end of the run. */
export class ReadReport {
  private readonly unassigned = new Tally(
    (n, first) => `${n} line(s) left out: no patient reference could be read, or not a resource (first: ${first})`,
  );
  private readonly unparsed = new Tally(
    (n, first) =>
      `${n} line(s) left out: not JSON, and no patient reference could be found in them (first: ${first}); an export cut short ends with such a line`,
  );
  private readonly orphans = new Tally(
    (n, first) => `${n} line(s) left out: the patient they name is not in Patient.ndjson (first: ${first})`,
  );
  private readonly invalidUtf8 = new Tally((n, first) => `${n} line(s) left out: not valid UTF-8 (first: ${first})`);
  private readonly tooManyValues = new Tally(
    (n, first) =>
      `${n} line(s) left out: more than ${maxJsonValues().toLocaleString('en-US')} JSON values, more than a thread's ${heapMb()} MB heap can parse to find their patient (first: ${first})`,
  );
  private readonly medications = new Tally(
    (n, first) => `${n} resource(s) left out: not the shape the engine reads (first: ${first})`,
  );

  /** The reader's callbacks, each counting into its tally. */
  readonly options: ReadOptions = {
    onUnassigned: this.unassigned.add,
    onOrphan: this.orphans.add,
    onUnparsed: this.unparsed.add,
    onInvalidUtf8: this.invalidUtf8.add,
    onTooManyValues: this.tooManyValues.add,
  };

  /** The Medication lines every patient gets: screened here, once, like any resource; the others left out. */
  sharedLines(lines: string[]): string[] {
    const kept: string[] = [];
    for (const line of lines) {
      let issue: Pick<AssessmentIssue, 'resource' | 'message'> | undefined;
      try {
        issue = screenResources([JSON.parse(line) as unknown]).issues[0];
      } catch {
        issue = { resource: 'Medication', message: 'a line is not JSON' };
      }
      if (!issue) kept.push(line);
      else this.medications.add([issue.resource, issue.message].filter(Boolean).join(' '));
    }
    return kept;
  }

  write(err: NodeJS.WritableStream): void {
    for (const tally of [
      this.invalidUtf8,
      this.tooManyValues,
      this.unassigned,
      this.unparsed,
      this.orphans,
      this.medications,
    ])
      tally.write(err);
  }
}

/** What the patients' results add up to, told once the run is over. */
export class Outcome {
  failed = 0;
  leftOut = 0;
  misplaced = 0;
  firstLeftOut: string | undefined;

  add(result: AssessResult): void {
    this.leftOut += result.leftOut;
    this.misplaced += result.misplaced;
    if ('output' in result) this.firstLeftOut ??= result.firstLeftOut;
    else this.failed++;
  }

  write(err: NodeJS.WritableStream): void {
    if (this.leftOut > 0) err.write(leftOutMessage(this.leftOut, { resource: this.firstLeftOut ?? '', message: '' }));
    if (this.misplaced > 0)
      err.write(
        `${this.misplaced} resource(s) left out: the patient their reference names is not the one their line was read for\n`,
      );
  }
}
