/**
 * A FHIR Bulk Data folder (one `<Type>.ndjson` file per resource type) read as a stream of
 * patients: each patient's lines, as soon as every file has moved past that patient.
 *
 * Bulk Data servers write each file patient after patient in practice (and `npm run cohort` does),
 * in the order of `Patient.ndjson`. The files are then read side by side, one patient at a time,
 * so memory holds one patient's lines whatever the size of the export. A file that is not in that
 * order is detected (a line for a patient already passed) and the caller is told to read the folder
 * whole instead ({@link UnorderedExportError}, {@link patientsInAnyOrder}).
 *
 * The reader runs on the main thread, which also feeds the workers and assesses patients itself
 * (cli/cohort.ts): it must cost far less than parsing. So files are read as bytes and never
 * decoded as UTF-8 whole: line ends are found with memchr (`Buffer.indexOf`), and a line's owner
 * (its `subject`, else `patient`, reference, read as the engine reads it) by searching the chunk's
 * bytes for that key and matching the reference there ({@link ownerFound}); {@link lineOwner}
 * decides, parsing the line, whenever that is not certain (more than one such key, a contained
 * resource, a JSON escape in the reference). A line that is not valid UTF-8 is left out (and told):
 * each chunk's lines are checked in one pass, line by line only in a chunk that fails
 * ({@link Chunk.validUtf8}). Each patient's lines leave as one buffer of their own, shared (not copied) with a worker,
 * which decodes, splits ({@link ndjsonLines}) and parses them, and checks each owner
 * (cli/assess-worker.ts).
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream, readdirSync, statSync, type ReadStream } from 'node:fs';
import { basename, join } from 'node:path';
import { AssessmentInputError } from '../clinical/assess.js';
import { patientIdOf } from '../clinical/record.js';
import { jsonValuesOver } from '../fhir/json-text.js';
import { isFhirId } from '../fhir/resource-check.js';
import { formatBytes } from '../read-file.js';
import { maxJsonValues } from './heap.js';
import { printable } from './printable.js';

/** One patient's lines: UTF-8, each line ended by '\n' (read back with {@link ndjsonLines}). */
export interface PatientLines {
  patientId: string;
  ndjson: Buffer<SharedArrayBuffer>;
}

/** What the readers yield first: the lines that go with every patient, and how many patients follow. */
export interface SharedLines {
  shared: string[];
  total: number;
}

/** A patient whose lines were not kept: more than {@link MAX_PATIENT_BYTES} of them. */
export interface PatientRefused {
  patientId: string;
  refused: string;
}

export type CohortItem = PatientLines | SharedLines | PatientRefused;

export interface ReadOptions {
  /** Bytes read at a time (tests make it tiny so that lines and characters straddle chunks). */
  chunkSize?: number;
  /** Longest line accepted, in bytes (default {@link MAX_LINE_BYTES}). */
  maxLineBytes?: number;
  /** Most bytes of lines one patient may have (default {@link MAX_PATIENT_BYTES}). */
  maxPatientBytes?: number;
  /**
   * Told of every line left out because it names no patient (no readable `subject`/`patient`
   * reference, or not a resource at all), or a line of Medication.ndjson that is not a Medication:
   * where it is (`Observation.ndjson line 7`).
   */
  onUnassigned?: (where: string) => void;
  /**
   * Told of every line left out because the patient it names is not in Patient.ndjson (an export
   * lists its patients there; an id that is not one, e.g. with bytes that are not UTF-8, would
   * otherwise become a patient of its own).
   */
  onOrphan?: (where: string) => void;
  /**
   * Told of every line left out because it is not JSON and names no patient the reader could find
   * (a line that names one goes to that patient's worker, which leaves it out and counts it there).
   * An export cut short ends with such a line: the rest of the export is still read.
   */
  onUnparsed?: (where: string) => void;
  /**
   * Told of every line left out because it is not valid UTF-8: decoded, its bad bytes would become
   * U+FFFD without a word (a LOINC code with one matches nothing, and its results are lost unsaid).
   */
  onInvalidUtf8?: (where: string) => void;
  /**
   * Most JSON values of a line the reader parses to find its patient (default: maxJsonValues of
   * cli/heap.ts, from the heap of the thread reading).
   */
  maxJsonValues?: number;
  /** Told of every line left out because the reader would have to parse it and it holds more than that. */
  onTooManyValues?: (where: string) => void;
}

/**
 * Longest line accepted: a line is held whole until its end, and decoded whole by the worker; V8's
 * strings stop at about 512 MB, and a file with no line end must not fill memory first.
 */
export const MAX_LINE_BYTES = 256 * 1_048_576;

/**
 * Most bytes of lines kept for one patient: a real record is a few MB, and a worker holds a
 * patient's lines parsed (several times their bytes). A patient past it is not assessed, and said;
 * the others are.
 */
export const MAX_PATIENT_BYTES = 256 * 1_048_576;

/**
 * Most bytes of Medication lines: each goes to every patient (their administrations may name any),
 * so they cost once per patient. The medications of a cohort's administrations are well under 1 MB.
 */
export const MAX_SHARED_BYTES = 8 * 1_048_576;

const CHUNK_SIZE = 1 << 20;

/** The export is not written patient by patient in the order of Patient.ndjson. */
export class UnorderedExportError extends Error {}

const OWNER = /"(?:subject|patient)"\s*:\s*\{\s*"reference"\s*:\s*"(?:[^"]*\/)?Patient\/([^"/]+)"/;
const PATIENT_LINE = /^\s*\{\s*"resourceType"\s*:\s*"Patient"/;
const MEDICATION_LINE = /^\s*\{\s*"resourceType"\s*:\s*"Medication"/;
const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/**
 * The patient a line belongs to, from the text; undefined when it names none, null when it is not
 * JSON. The reference is read as the engine reads it (patientIdOf: `Patient/<id>`, absolute or with
 * `_history`); an id written with JSON escapes is read from the parsed line.
 */
export function lineOwner(line: string): string | undefined | null {
  // A contained resource may carry a `patient` or `subject` of its own, an extension may hold one,
  // and `patient` may come before `subject` (which the engine reads first): with more than one key
  // or a contained resource, the line is parsed.
  if (!PATIENT_LINE.test(line) && !line.includes(CONTAINED_KEY) && (line.match(OWNER_KEYS)?.length ?? 0) <= 1) {
    const match = OWNER.exec(line);
    if (match && !match[1]?.includes('\\')) return fhirId(match[1]);
  }
  let r: { resourceType?: unknown; id?: unknown; subject?: { reference?: unknown }; patient?: { reference?: unknown } };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    return null;
  }
  if (r?.resourceType === 'Patient') return fhirId(r.id);
  const holder = r?.subject ?? r?.patient;
  return holder && typeof holder === 'object' ? fhirId(patientIdOf(holder as { reference?: string })) : undefined;
}

/**
 * `id` when it is a FHIR id (the resource check's rule): anything else (bytes that are not UTF-8,
 * spaces, an id too long) names no patient, rather than one made up from it.
 */
function fhirId(id: unknown): string | undefined {
  return isFhirId(id) ? id : undefined;
}

/**
 * Bytes decoded at a time by {@link ndjsonLines}, cut at a line end: V8 puts a string of more than
 * about 128 KB in its large-object space, and decoding a patient's lines (some 200 KB) in one piece
 * made decoding and parsing them a fifth slower (measured).
 */
const DECODED_PIECE = 1 << 16;

/** The lines of a patient's buffer ({@link PatientLines}), as the file held them (without '\r\n' or '\n'). */
export function ndjsonLines(ndjson: Uint8Array): string[] {
  const bytes = Buffer.from(ndjson.buffer, ndjson.byteOffset, ndjson.byteLength);
  const lines: string[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = bytes.lastIndexOf(NEWLINE, start + DECODED_PIECE - 1);
    if (end < start) end = bytes.indexOf(NEWLINE, start + DECODED_PIECE); // a line longer than a piece
    if (end < 0) end = bytes.length;
    for (const line of bytes.toString('utf8', start, end).split('\n'))
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    start = end + 1;
  }
  return lines;
}

/** An export file's name: `.ndjson` in any case (`Observation.NDJSON`, as some servers and copies write it). */
const NDJSON_NAME = /\.ndjson$/i;

/**
 * The `.ndjson` files of a folder (the extension in any case), in name order. Each must be a
 * regular file (or a link to one): a FIFO would stall the reading, and a directory or device is no
 * export file.
 */
export function ndjsonFiles(folder: string): string[] {
  const files = readdirSync(folder)
    .filter((f) => NDJSON_NAME.test(f))
    .sort()
    .map((f) => join(folder, f));
  for (const file of files) {
    const stat = statSync(file, { throwIfNoEntry: false });
    const name = printable(basename(file));
    if (!stat) throw new AssessmentInputError(`cannot read ${name}: ENOENT (a link to nothing?)`);
    if (!stat.isFile()) throw new AssessmentInputError(`${name} is not a regular file`);
  }
  return files;
}

/** Names of compressed NDJSON, which is not read. */
const COMPRESSED_NAME = /\.ndjson\.(gz|bz2|xz|zst|zip)$/i;

/**
 * What of a folder is not read, in name order, each with why: compressed NDJSON, subfolders (an
 * export is one folder), and any other file not named `.ndjson` (`.jsonl`, `.json`): said, so no
 * data goes unnoticed.
 */
export function entriesNotRead(folder: string): { name: string; why: string }[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => !NDJSON_NAME.test(entry.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((entry) => {
      if (COMPRESSED_NAME.test(entry.name))
        return { name: entry.name, why: 'compressed files are not read; decompress it into the folder first' };
      const folderLike =
        entry.isDirectory() ||
        (entry.isSymbolicLink() && statSync(join(folder, entry.name), { throwIfNoEntry: false })?.isDirectory());
      return folderLike
        ? { name: entry.name, why: 'a subfolder; only the .ndjson files of the folder itself are read' }
        : { name: entry.name, why: 'not a .ndjson file' };
    });
}

/** Whether an export file holds resources of `type` (`Patient.ndjson`, the extension in any case). */
function holds(file: string, type: string): boolean {
  return basename(file).replace(NDJSON_NAME, '') === type;
}

/** Bytes [start, next) of `bytes`: one or more lines with their line ends. */
interface Range {
  bytes: Buffer;
  start: number;
  next: number;
}

/** A non-blank line: bytes [start, end) of `bytes` without its line end; the next line starts at `next`. */
interface Line extends Range {
  end: number;
  owner: string | undefined;
  /** The file's name and the line's number in it (see {@link whereOf}). */
  file: string;
  lineNumber: number;
  /** The decoded line, when finding its owner needed it. */
  text: string | undefined;
}

/** Where a line is, as said to the user: `Observation.ndjson line 7` (built only when said). */
function whereOf(line: Line): string {
  return `${line.file} line ${line.lineNumber}`;
}

/** The decoded text of a line. */
function textOf(line: Line): string {
  return line.text ?? line.bytes.toString('utf8', line.start, line.end);
}

/**
 * Where a key next occurs in a chunk, remembered: a line without the key must not make the search
 * run through the rest of the chunk again (a file without `"patient"` would cost a chunk scan per
 * line). The search starts `lead` bytes into the key, past the `"` that is everywhere in JSON: it
 * runs memchr on the first byte it looks for (measured: `ject"` and `atient"` search a chunk two to
 * ten times faster than the whole keys).
 */
class KeyScan {
  private readonly rest: Buffer;
  /** Where the last search started (none yet) and what it found. */
  private from = Infinity;
  private found = -1;

  constructor(
    private readonly bytes: Buffer,
    private readonly key: Buffer,
    private readonly lead: number,
  ) {
    this.rest = key.subarray(lead);
  }

  /** The first occurrence at or after `from`, -1 when none. */
  at(from: number): number {
    if (from < this.from || (this.found >= 0 && from > this.found)) this.search(from);
    return this.found;
  }

  private search(from: number): void {
    const { bytes, key, lead } = this;
    let found = bytes.indexOf(this.rest, from + lead);
    while (found >= 0 && !literalAt(bytes, found - lead, bytes.length, key))
      found = bytes.indexOf(this.rest, found + 1);
    this.from = from;
    this.found = found < 0 ? -1 : found - lead;
  }
}

const SUBJECT = Buffer.from('"subject"');
const PATIENT = Buffer.from('"patient"');
const CONTAINED_KEY = '"contained"';
const OWNER_KEYS = /"(?:subject|patient)"/g;
const CONTAINED = Buffer.from(CONTAINED_KEY);

/** Bytes read from a file, with where their `"subject"` and `"patient"` keys are. */
class Chunk {
  private readonly keys: KeyScan[];
  /** Where `"contained"` keys are: a line with one before its first key is left to lineOwner. */
  readonly contained: KeyScan;

  /** Whether the lines of this chunk are all valid UTF-8; unknown until its first line is asked about. */
  private allUtf8: boolean | undefined;

  constructor(readonly bytes: Buffer) {
    this.keys = [new KeyScan(bytes, SUBJECT, 4), new KeyScan(bytes, PATIENT, 2)];
    this.contained = new KeyScan(bytes, CONTAINED, 5);
  }

  /**
   * Whether the line [start, end) is valid UTF-8. Asked first about the chunk's first line: its lines
   * then run from `start` to its last line end (or its end: a line joined from chunks, the file's
   * last line), and are checked in one isUtf8 (simdutf, several GB/s: a fraction of the memchr
   * passes that find the lines). Only in a chunk that is not valid is each line checked alone. Cut
   * at line ends, the lines never split a character, as a chunk's own ends do.
   */
  validUtf8(start: number, end: number): boolean {
    if (this.allUtf8 === undefined) {
      const last = this.bytes.lastIndexOf(NEWLINE);
      this.allUtf8 = isUtf8(this.bytes.subarray(start, last >= start ? last + 1 : this.bytes.length));
    }
    return this.allUtf8 || isUtf8(this.bytes.subarray(start, end));
  }

  /** The first `"subject"` or `"patient"` key at or after `from`, -1 when none. */
  firstKey(from: number): number {
    let first = -1;
    for (const key of this.keys) {
      const at = key.at(from);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }
}

/** Whether `literal` (ASCII) is at `at` of bytes that end at `end`. */
function literalAt(bytes: Buffer, at: number, end: number, literal: Buffer): boolean {
  if (at + literal.length > end) return false;
  for (let i = 0; i < literal.length; i++) if (bytes[at + i] !== literal[i]) return false;
  return true;
}

/** The ASCII characters `\s` matches: tab, line feed, vertical tab, form feed, carriage return, space. */
function isSpace(byte: number): boolean {
  return byte === 32 || (byte >= 9 && byte <= 13);
}

/** The answer "lineOwner must decide" of the matchers below. */
const UNSURE = -2;

/**
 * Matches `parts`, each after optional whitespace (the regexes' `\s*`), from `at` of bytes that end
 * at `end`: where the match ends, -1 when the regex fails there, or UNSURE. A byte of 0x80 or more
 * where whitespace may be is UNSURE: in UTF-8 it may begin a Unicode space, which `\s` matches.
 * Otherwise bytes decide alone: the literals are ASCII, and ASCII bytes decode to themselves.
 */
function partsAt(bytes: Buffer, at: number, end: number, parts: Buffer[]): number {
  for (const part of parts) {
    while (at < end && isSpace(bytes[at] as number)) at++;
    if (at < end && (bytes[at] as number) >= 0x80) return UNSURE;
    if (!literalAt(bytes, at, end, part)) return -1;
    at += part.length;
  }
  return at;
}

/** PATIENT_LINE up to the resource type, and the type it needs. */
const TYPE_PARTS = ['{', '"resourceType"', ':', '"'].map((part) => Buffer.from(part));
const PATIENT_TYPE = Buffer.from('Patient"');
/** OWNER after its key, up to the reference. */
const REFERENCE_PARTS = [':', '{', '"reference"', ':', '"'].map((part) => Buffer.from(part));
const PATIENT_PATH = Buffer.from('Patient/');
const QUOTE = 34;
const SLASH = 47;
const BACKSLASH = 92;

/**
 * OWNER's capture where the reference starts at `at` (after its opening quote), -1 when OWNER fails
 * there: the reference must end in `Patient/<id>`, before it nothing or something ending in '/',
 * and `<id>` (all after the last '/') not empty. The id is decoded as UTF-8 alone: it lies between
 * ASCII bytes, so it decodes as it does within the line.
 */
function referencedPatient(bytes: Buffer, at: number, end: number): string | -1 {
  const close = bytes.indexOf(QUOTE, at);
  if (close < 0 || close >= end) return -1;
  let slash = close - 1;
  while (slash >= at && bytes[slash] !== SLASH) slash--;
  const path = slash - PATIENT_PATH.length + 1;
  if (slash + 1 === close || path < at || !literalAt(bytes, path, close, PATIENT_PATH)) return -1;
  if (path > at && bytes[path - 1] !== SLASH) return -1;
  // A JSON escape in the reference: lineOwner parses the line. Searched within the reference only (a
  // search to the chunk's end for a byte most lines lack made reading quadratic: 1.2 s on 400 patients).
  for (let i = at; i < close; i++) if (bytes[i] === BACKSLASH) return -1;
  return decodedId(bytes, slash + 1, close);
}

/** The id last decoded: the lines of a patient follow one another, so most ids are the last one again. */
let lastId = '';

/** The id in bytes [from, to), as UTF-8; the last one when the bytes are its characters, all ASCII. */
function decodedId(bytes: Buffer, from: number, to: number): string {
  let same = to - from === lastId.length;
  for (let i = 0; same && i < lastId.length; i++) {
    const byte = bytes[from + i] as number;
    same = byte < 0x80 && byte === lastId.charCodeAt(i);
  }
  if (!same) lastId = bytes.toString('utf8', from, to);
  return lastId;
}

/**
 * {@link lineOwner}'s answer for the line [start, end) of a chunk, from its bytes: the same regexes
 * matched by hand where they can match, without decoding the line; undefined when lineOwner must
 * decide (it may parse). A line that is not a Patient line by PATIENT_LINE is owned by OWNER's
 * first match, which can only begin at a `"subject"`/`"patient"` key: a match at the line's first
 * key is that first match.
 */
function ownerFound(chunk: Chunk, start: number, end: number): string | undefined {
  const { bytes } = chunk;
  const type = partsAt(bytes, start, end, TYPE_PARTS);
  if (type === UNSURE || (type >= 0 && literalAt(bytes, type, end, PATIENT_TYPE))) return undefined;
  const key = chunk.firstKey(start);
  if (key < 0 || key >= end) return undefined;
  const contained = chunk.contained.at(start);
  if (contained >= 0 && contained < end) return undefined; // lineOwner parses a line with contained resources
  const second = chunk.firstKey(key + 1);
  if (second >= 0 && second < end) return undefined; // and one with more than one key
  const reference = partsAt(bytes, key + SUBJECT.length, end, REFERENCE_PARTS);
  const owner = reference < 0 ? -1 : referencedPatient(bytes, reference, end);
  return owner === -1 ? undefined : fhirId(owner);
}

const BOM = [0xef, 0xbb, 0xbf];
const NO_CHUNK = new Chunk(Buffer.alloc(0));

/**
 * The non-blank lines of one file, each with its owner. Lines are cut from the chunks as read; a
 * line that straddles chunks is joined into a chunk of its own. A UTF-8 byte order mark at the
 * start of the file is skipped (editors on Windows add one; JSON.parse would reject the line).
 */
class LineCursor {
  /** The current line; undefined at the end of the file. */
  head: Line | undefined;
  /** Opened on the first read: a stream's open error has no listener before its iterator first runs. */
  private chunks: AsyncIterator<Buffer, undefined> | undefined;
  private readonly chunkSize: number;
  private chunk = NO_CHUNK;
  private at = 0;
  /** The start of a line whose end is in a later chunk. */
  private carry: Buffer[] = [];
  private lineNumber = 0;

  /** Bytes of the line being joined across chunks so far. */
  private carried = 0;
  private readonly maxLineBytes: number;
  private readonly onUnparsed: ((where: string) => void) | undefined;
  private readonly onInvalidUtf8: ((where: string) => void) | undefined;
  private readonly maxJsonValues: number;
  private readonly onTooManyValues: ((where: string) => void) | undefined;
  /** The file's name, as messages give it (control characters escaped). */
  private readonly name: string;

  constructor(
    readonly file: string,
    options: ReadOptions,
  ) {
    this.name = printable(basename(file));
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.onUnparsed = options.onUnparsed;
    this.onInvalidUtf8 = options.onInvalidUtf8;
    this.maxJsonValues = options.maxJsonValues ?? maxJsonValues();
    this.onTooManyValues = options.onTooManyValues;
    this.chunkSize = options.chunkSize ?? CHUNK_SIZE;
  }

  /** The next chunk of the file (done at its end); the system's refusal as a named AssessmentInputError. */
  private async nextChunk(): Promise<IteratorResult<Buffer, undefined>> {
    if (!this.chunks) {
      const stream: ReadStream = createReadStream(this.file, { highWaterMark: this.chunkSize });
      this.chunks = (stream as AsyncIterable<Buffer, undefined>)[Symbol.asyncIterator]();
    }
    try {
      return await this.chunks.next();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw error;
      throw new AssessmentInputError(`cannot read ${this.name}: ${code}`);
    }
  }

  /**
   * Moves to the next non-blank line when the chunk read holds it (true); false when a read must
   * come first ({@link advance}). Throws AssessmentInputError when the line is not JSON. The hot
   * loops call this first: an await per line would cost more than finding the line's owner.
   */
  step(): boolean {
    for (;;) {
      const newline = this.chunk.bytes.indexOf(NEWLINE, this.at);
      if (newline < 0) return false;
      const start = this.at;
      this.at = newline + 1;
      const line = this.line(this.chunk, start, this.at);
      if (line) {
        this.head = line;
        return true;
      }
    }
  }

  /** Moves to the next non-blank line, reading as needed; throws AssessmentInputError when it is not JSON. */
  async advance(): Promise<void> {
    while (!this.step()) {
      const joined = await this.read();
      if (joined === null) {
        this.head = undefined;
        return;
      }
      const line = joined && this.line(joined, 0, joined.bytes.length);
      if (line) {
        this.head = line;
        return;
      }
    }
  }

  /**
   * Reads the next chunk: the line that straddles the end of the last one comes joined into a chunk
   * of its own (and the new chunk is cut from its second line on), or undefined when none does;
   * null at the end of the file.
   */
  private async read(): Promise<Chunk | undefined | null> {
    this.carried = this.chunk.bytes.length - this.at;
    if (this.at < this.chunk.bytes.length) this.carry.push(this.chunk.bytes.subarray(this.at));
    this.chunk = NO_CHUNK;
    this.at = 0;
    for (;;) {
      const { done, value } = await this.nextChunk();
      if (done) break;
      const newline = value.indexOf(NEWLINE);
      this.carried += newline < 0 ? value.length : newline;
      if (this.carried > this.maxLineBytes)
        throw new AssessmentInputError(
          `${this.name} line ${this.lineNumber + 1} is longer than ${this.maxLineBytes} bytes`,
        );
      if (newline < 0) {
        this.carry.push(value);
        continue;
      }
      this.chunk = new Chunk(value);
      if (this.carry.length === 0) return undefined;
      this.at = newline + 1;
      this.carry.push(value.subarray(0, this.at));
      break;
    }
    if (this.carry.length === 0) return null;
    const joined = new Chunk(Buffer.concat(this.carry));
    this.carry = [];
    return joined;
  }

  /** The line [start, next) of a chunk, without its line end, with its owner; undefined when it is blank. */
  private line(chunk: Chunk, start: number, next: number): Line | undefined {
    const bytes = chunk.bytes;
    this.lineNumber++;
    let end = bytes[next - 1] === NEWLINE ? next - 1 : next;
    if (end > start && bytes[end - 1] === CARRIAGE_RETURN) end--;
    if (!chunk.validUtf8(start, end)) {
      this.onInvalidUtf8?.(`${this.name} line ${this.lineNumber}`); // left out, and told, as a line that is not JSON
      return undefined;
    }
    if (this.lineNumber === 1 && start + BOM.length <= end && BOM.every((b, i) => bytes[start + i] === b))
      start += BOM.length;
    const { name: file, lineNumber } = this;
    const owner = ownerFound(chunk, start, end);
    if (owner !== undefined) return { bytes, start, end, next, owner, file, lineNumber, text: undefined };
    const text = bytes.toString('utf8', start, end);
    if (!text.trim()) return undefined;
    // lineOwner may parse it, here on the main thread, whose heap exhausted ends the process.
    if (jsonValuesOver(text, this.maxJsonValues)) {
      this.onTooManyValues?.(`${file} line ${lineNumber}`); // left out, and told
      return undefined;
    }
    const decided = lineOwner(text);
    if (decided === null) {
      this.onUnparsed?.(`${file} line ${lineNumber}`); // left out, and told; passed over like a blank line
      return undefined;
    }
    return { bytes, start, end, next, owner: decided, file, lineNumber, text };
  }
}

function refusal(patientId: string, maxBytes: number): PatientRefused {
  return { patientId, refused: `more than ${formatBytes(maxBytes)} of lines in the export; not assessed` };
}

/** Whether a range ends with a line end (the last line of a file may have none). */
function ended(range: Range): boolean {
  return range.bytes[range.next - 1] === NEWLINE;
}

/**
 * One patient's lines held as ranges of the chunks they were read in (consecutive lines make one
 * range), until they are copied out in one go for a worker.
 */
class PatientBytes {
  private readonly ranges: Range[] = [];
  /** Bytes of the lines added (each with its line end). */
  size = 0;

  add(line: Line): void {
    this.size += line.next - line.start;
    const last = this.ranges[this.ranges.length - 1];
    if (last && last.bytes === line.bytes && last.next === line.start) last.next = line.next;
    else this.ranges.push({ bytes: line.bytes, start: line.start, next: line.next });
  }

  /**
   * The lines in a buffer of their own, each ended by '\n': shared memory, which a worker reads
   * without a copy, and which stays readable here should that worker die before it gets to them
   * (the patient is then sent to another, cli/cohort.ts). A moved ArrayBuffer would die with it.
   */
  take(): Buffer<SharedArrayBuffer> {
    let size = 0;
    for (const r of this.ranges) size += r.next - r.start + (ended(r) ? 0 : 1);
    const out = Buffer.from(new SharedArrayBuffer(size));
    let at = 0;
    for (const r of this.ranges) {
      at += r.bytes.copy(out, at, r.start, r.next);
      if (!ended(r)) out[at++] = NEWLINE;
    }
    return out;
  }
}

/**
 * Reads the lines of every file whose resources name no patient (Medication): they go with every
 * patient, as groupByPatient does.
 */
async function sharedLines(files: string[], options: ReadOptions): Promise<string[]> {
  const shared: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const cursor = new LineCursor(file, options);
    for (await cursor.advance(); cursor.head; await cursor.advance()) {
      const text = textOf(cursor.head);
      if (!MEDICATION_LINE.test(text)) {
        options.onUnassigned?.(whereOf(cursor.head));
        continue;
      }
      bytes = sharedWithin(bytes, cursor.head);
      shared.push(text);
    }
  }
  return shared;
}

/** Bytes of Medication lines so far with `line`'s; throws past {@link MAX_SHARED_BYTES}. */
function sharedWithin(bytes: number, line: Line): number {
  const total = bytes + (line.end - line.start);
  if (total > MAX_SHARED_BYTES)
    throw new AssessmentInputError(
      `${line.file}: more than ${formatBytes(MAX_SHARED_BYTES)} of Medications, which every patient is given; not read`,
    );
  return total;
}

/** The ids of Patient.ndjson in file order, repeated or missing ones allowed (the folder is read whole). */
async function patientIds(file: string, options: ReadOptions): Promise<Set<string>> {
  const ids = new Set<string>();
  const cursor = new LineCursor(file, options);
  for (await cursor.advance(); cursor.head; cursor.step() || (await cursor.advance()))
    if (cursor.head.owner !== undefined) ids.add(cursor.head.owner);
  return ids;
}

/**
 * The ids of Patient.ndjson in file order, each with its lines: a line without an id is left out
 * (and told), a repeated id (another version of the resource) goes with the first.
 */
async function patientOrder(file: string, options: ReadOptions): Promise<Map<string, Line[]>> {
  const order = new Map<string, Line[]>();
  const patients = new LineCursor(file, options);
  for (await patients.advance(); patients.head; await patients.advance()) {
    const id = patients.head.owner;
    if (id === undefined) options.onUnassigned?.(whereOf(patients.head));
    else if (order.has(id)) order.get(id)?.push(patients.head);
    else order.set(id, [patients.head]);
  }
  return order;
}

/**
 * Why {@link patientsInOrder} would throw {@link UnorderedExportError} on this folder, found by
 * reading it through once without keeping anything (each file's lines must name patients in the
 * order of Patient.ndjson); undefined when it would not. For a caller that cannot take back what it
 * wrote (standard output), at the cost of reading the export twice (about as long as the reading
 * itself: 0.2 s of the main thread on 400 patients, the run 0.1 s longer). Lines left out are not
 * told here: the reading tells them.
 */
export async function orderProblem(folder: string, options: ReadOptions = {}): Promise<string | undefined> {
  const files = ndjsonFiles(folder);
  const patientFile = files.find((f) => holds(f, 'Patient'));
  if (!patientFile) return NO_ORDER;
  const quiet: ReadOptions = { chunkSize: options.chunkSize, maxLineBytes: options.maxLineBytes };
  const position = new Map([...(await patientIds(patientFile, quiet))].map((id, i) => [id, i]));
  for (const file of files.filter((f) => f !== patientFile && !holds(f, 'Medication'))) {
    const cursor = new LineCursor(file, quiet);
    let last = 0;
    for (await cursor.advance(); cursor.head; cursor.step() || (await cursor.advance())) {
      const at = cursor.head.owner === undefined ? undefined : position.get(cursor.head.owner);
      if (at === undefined) continue; // naming no patient, or one not in Patient.ndjson
      if (at < last) return notInOrder(cursor.file);
      last = at;
    }
  }
  return undefined;
}

const NO_ORDER = 'no Patient.ndjson gives the order of patients';
const notInOrder = (file: string): string => `${printable(file)}: a line for a patient not in this order`;

/**
 * The patients of `Patient.ndjson` in file order, and then each patient's lines from every other
 * file. Throws {@link UnorderedExportError} (before or while yielding) when the export is not in
 * that order; nothing then tells the caller which patients are complete, so it must start over.
 */
export async function* patientsInOrder(folder: string, options: ReadOptions = {}): AsyncGenerator<CohortItem> {
  const files = ndjsonFiles(folder);
  const patientFile = files.find((f) => holds(f, 'Patient'));
  if (!patientFile) throw new UnorderedExportError(NO_ORDER);
  const medicationFiles = files.filter((f) => holds(f, 'Medication'));
  const order = await patientOrder(patientFile, options);
  const position = new Map([...order.keys()].map((id, i) => [id, i]));
  yield { shared: await sharedLines(medicationFiles, options), total: order.size };
  const cursors = files
    .filter((f) => f !== patientFile && !medicationFiles.includes(f))
    .map((f) => new LineCursor(f, options));
  // One file after the other, not all at once: of two bad lines, the same one is reported every time.
  for (const cursor of cursors) await cursor.advance();
  let index = 0;
  const maxBytes = options.maxPatientBytes ?? MAX_PATIENT_BYTES;
  for (const [patientId, patientLines] of order) {
    const lines = new PatientBytes();
    for (const line of patientLines) lines.add(line);
    let tooLarge = false;
    for (const cursor of cursors) {
      for (; cursor.head; cursor.step() || (await cursor.advance())) {
        const owner = cursor.head.owner;
        if (owner === undefined) {
          options.onUnassigned?.(whereOf(cursor.head)); // naming no patient: not assessed, and said
          continue;
        }
        const at = position.get(owner);
        if (at === undefined) {
          options.onOrphan?.(whereOf(cursor.head));
          continue;
        }
        if (at < index) throw new UnorderedExportError(notInOrder(cursor.file));
        if (at > index) break;
        if (!tooLarge) lines.add(cursor.head);
        tooLarge ||= lines.size > maxBytes; // the rest of this patient's lines are passed over
      }
    }
    index++;
    yield tooLarge ? refusal(patientId, maxBytes) : { patientId, ndjson: lines.take() };
  }
}

/**
 * Every patient's lines from a folder in any order: the files are read whole first (memory grows
 * with the export), Medication lines go with all. Patients come in the order of Patient.ndjson, as
 * from {@link patientsInOrder}; without one, in the order they were first met (files in name order).
 */
export async function* patientsInAnyOrder(folder: string, options: ReadOptions = {}): AsyncGenerator<CohortItem> {
  const maxBytes = options.maxPatientBytes ?? MAX_PATIENT_BYTES;
  const shared: string[] = [];
  const files = ndjsonFiles(folder);
  const patientFile = files.find((f) => holds(f, 'Patient'));
  const known = patientFile ? await patientIds(patientFile, options) : new Set<string>();
  // Each id of Patient.ndjson has a line there (its own), read into its group below.
  const groups = new Map([...known].map((id) => [id, new PatientBytes()]));
  let sharedBytes = 0;
  for (const file of files) {
    const cursor = new LineCursor(file, options);
    for (await cursor.advance(); cursor.head; cursor.step() || (await cursor.advance())) {
      const { owner } = cursor.head;
      if (owner === undefined) {
        const text = textOf(cursor.head);
        if (!MEDICATION_LINE.test(text)) options.onUnassigned?.(whereOf(cursor.head));
        else {
          sharedBytes = sharedWithin(sharedBytes, cursor.head);
          shared.push(text);
        }
        continue;
      }
      if (known.size > 0 && !known.has(owner)) {
        options.onOrphan?.(whereOf(cursor.head));
        continue;
      }
      let lines = groups.get(owner);
      if (!lines) groups.set(owner, (lines = new PatientBytes()));
      if (lines.size <= maxBytes) lines.add(cursor.head);
    }
  }
  yield { shared, total: groups.size };
  for (const [patientId, lines] of groups) {
    groups.delete(patientId); // its chunks can go once copied out
    yield lines.size > maxBytes ? refusal(patientId, maxBytes) : { patientId, ndjson: lines.take() };
  }
}
