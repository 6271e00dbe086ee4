/**
 * A FHIR Bulk Data folder (one `<Type>.ndjson` file per resource type) read as a stream of
 * patients: each patient's lines, as soon as every file has moved past that patient.
 *
 * Bulk Data servers write each file patient after patient in practice (and `npm run cohort` does),
 * in the order of `Patient.ndjson`. The files are then read side by side, one patient at a time,
 * so memory holds one patient's lines whatever the size of the export. A file that is not in that
 * order is detected (a line for a patient already passed) and the caller is told to read the folder
 * whole instead ({@link UnorderedExportError}).
 *
 * The owner of a line is found without parsing it (the first `"subject"`/`"patient"` reference);
 * the worker that parses the line checks it (cli/assess-worker.ts).
 */
import { createReadStream, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AssessmentInputError } from '../clinical/assess.js';

export interface PatientLines {
  patientId: string;
  lines: string[];
}

/** The export is not written patient by patient in the order of Patient.ndjson. */
export class UnorderedExportError extends Error {}

const OWNER = /"(?:subject|patient)"\s*:\s*\{\s*"reference"\s*:\s*"(?:[^"]*\/)?Patient\/([^"/]+)"/;
const PATIENT_LINE = /^\s*\{\s*"resourceType"\s*:\s*"Patient"/;
const MEDICATION_LINE = /^\s*\{\s*"resourceType"\s*:\s*"Medication"/;

/** The patient a line belongs to, from the text; undefined when it names none, null when it is not JSON. */
export function lineOwner(line: string): string | undefined | null {
  if (!PATIENT_LINE.test(line)) {
    const match = OWNER.exec(line);
    if (match) return match[1];
  }
  let r: { resourceType?: unknown; id?: unknown; subject?: { reference?: unknown }; patient?: { reference?: unknown } };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    return null;
  }
  if (r?.resourceType === 'Patient') return typeof r.id === 'string' ? r.id : undefined;
  const ref = r?.subject?.reference ?? r?.patient?.reference;
  return typeof ref === 'string' && ref.startsWith('Patient/') ? ref.slice('Patient/'.length) : undefined;
}

/** The `.ndjson` files of a folder, in name order. */
export function ndjsonFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .map((f) => join(folder, f));
}

/**
 * The lines of one file, read in 1 MB chunks and split here: a line costs no promise (readline's
 * async iterator costs one per line, which made the reader, not the workers, the bottleneck).
 */
class LineCursor {
  private readonly chunks: AsyncIterator<string>;
  private readonly pending: string[] = [];
  private next = 0;
  private rest = '';
  private done = false;
  private lineNumber = 0;
  /** The next unread line and its owner; undefined at the end of the file. */
  head: { line: string; owner: string | undefined } | undefined;

  constructor(readonly file: string) {
    const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
    this.chunks = (stream as AsyncIterable<string>)[Symbol.asyncIterator]();
  }

  async advance(): Promise<void> {
    for (;;) {
      const line = this.pending.length > this.next ? this.pending[this.next++] : await this.refill();
      if (line === undefined) {
        this.head = undefined;
        return;
      }
      this.lineNumber++;
      if (!line.trim()) continue;
      const owner = lineOwner(line);
      if (owner === null) throw new AssessmentInputError(`${basename(this.file)} line ${this.lineNumber} is not JSON`);
      this.head = { line, owner };
      return;
    }
  }

  /** Reads chunks until there is a line; undefined at the end of the file. */
  private async refill(): Promise<string | undefined> {
    this.pending.length = 0;
    this.next = 0;
    while (!this.done) {
      const chunk = await this.chunks.next();
      if (chunk.done) {
        this.done = true;
        if (this.rest) this.pending.push(this.rest.replace(/\r$/, ''));
        this.rest = '';
        break;
      }
      const lines = (this.rest + chunk.value).split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) this.pending.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      if (this.pending.length > 0) break;
    }
    return this.pending.length > 0 ? this.pending[this.next++] : undefined;
  }
}

/**
 * Reads the lines of every file whose resources name no patient (Medication): they go with every
 * patient, as groupByPatient does.
 */
async function sharedLines(files: string[]): Promise<string[]> {
  const shared: string[] = [];
  for (const file of files) {
    const cursor = new LineCursor(file);
    for (await cursor.advance(); cursor.head; await cursor.advance())
      if (MEDICATION_LINE.test(cursor.head.line)) shared.push(cursor.head.line);
  }
  return shared;
}

/**
 * The patients of `Patient.ndjson` in file order, and then each patient's lines from every other
 * file. Throws {@link UnorderedExportError} (before or while yielding) when the export is not in
 * that order; nothing then tells the caller which patients are complete, so it must start over.
 */
export async function* patientsInOrder(
  folder: string,
): AsyncGenerator<PatientLines | { shared: string[]; total: number }> {
  const files = ndjsonFiles(folder);
  const patientFile = files.find((f) => /(^|\/)Patient\.ndjson$/.test(f));
  if (!patientFile) throw new UnorderedExportError('no Patient.ndjson gives the order of patients');
  const medicationFiles = files.filter((f) => /(^|\/)Medication\.ndjson$/.test(f));
  const order = new Map<string, number>();
  const patients = new LineCursor(patientFile);
  const patientLines: string[] = [];
  for (await patients.advance(); patients.head; await patients.advance()) {
    const id = patients.head.owner;
    if (id === undefined || order.has(id)) throw new UnorderedExportError('Patient.ndjson repeats or lacks an id');
    order.set(id, order.size);
    patientLines.push(patients.head.line);
  }
  yield { shared: await sharedLines(medicationFiles), total: order.size };
  const cursors = files.filter((f) => f !== patientFile && !medicationFiles.includes(f)).map((f) => new LineCursor(f));
  await Promise.all(cursors.map((c) => c.advance()));
  let index = 0;
  for (const [patientId, at] of order) {
    const lines = [patientLines[at] as string];
    for (const cursor of cursors) {
      while (cursor.head) {
        const owner = cursor.head.owner;
        const position = owner === undefined ? undefined : order.get(owner);
        if (owner === undefined) {
          // Resources naming no patient are not assessed (groupByPatient leaves them out too).
        } else if (position === undefined || position < index)
          throw new UnorderedExportError(`${cursor.file}: a line for a patient not in this order`);
        else if (position > index) break;
        else lines.push(cursor.head.line);
        await cursor.advance();
      }
    }
    index++;
    yield { patientId, lines };
  }
}
