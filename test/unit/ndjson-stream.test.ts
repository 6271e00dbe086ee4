/**
 * The CLI's Bulk Data reader (src/cli/ndjson-stream.ts) works on bytes and finds a line's owner from
 * the bytes around its key. It must yield what reading the files as text line by line with
 * lineOwner yields: the same patients, the same lines, the same errors. The reference below is that
 * simple reader (the files split at '\n', a patient's lines gathered file after file, as the former
 * reader did).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AssessmentInputError } from '../../src/clinical/assess.js';
import assessPatient from '../../src/cli/assess-worker.js';
import { assessmentCsvHeader } from '../../src/cli/csv.js';
import {
  entriesNotRead,
  lineOwner,
  ndjsonFiles,
  ndjsonLines,
  patientsInAnyOrder,
  patientsInOrder,
  UnorderedExportError,
  type CohortItem,
} from '../../src/cli/ndjson-stream.js';

type Item =
  { shared: string[]; total: number } | { patientId: string; lines: string[] } | { patientId: string; refused: string };
interface Outcome {
  items: Item[];
  error?: string;
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);

// ---------------------------------------------------------------------------------------------
// The reference: whole files as text, split at '\n'.

/** A file's lines as text: a byte order mark at its start dropped, '\r' before '\n' dropped. */
function textLines(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** The former reader's cursor: the next non-blank line and its owner; a line lineOwner cannot read is an error. */
class TextCursor {
  head: { line: string; owner: string | undefined } | undefined;
  private readonly lines: string[];
  private next = 0;

  constructor(readonly file: string) {
    this.lines = textLines(file);
  }

  advance(): void {
    this.head = undefined;
    while (this.next < this.lines.length) {
      const line = this.lines[this.next++] as string;
      if (!line.trim()) continue;
      const owner = lineOwner(line);
      if (owner === null) continue; // not JSON: left out (and told), as a blank line is passed over
      this.head = { line, owner };
      return;
    }
  }
}

const isMedication = (line: string): boolean => /^\s*\{\s*"resourceType"\s*:\s*"Medication"/.test(line);

/** patientsInOrder as the former reader did it, on text. */
function referenceInOrder(folder: string): Outcome {
  const items: Item[] = [];
  try {
    const files = ndjsonFiles(folder);
    const patientFile = files.find((f) => basename(f) === 'Patient.ndjson');
    if (!patientFile) throw new UnorderedExportError('no Patient.ndjson gives the order of patients');
    const medicationFiles = files.filter((f) => basename(f) === 'Medication.ndjson');
    const order = new Map<string, string[]>();
    const patients = new TextCursor(patientFile);
    for (patients.advance(); patients.head; patients.advance()) {
      const id = patients.head.owner;
      if (id === undefined) continue; // left out (and told)
      order.set(id, [...(order.get(id) ?? []), patients.head.line]); // a repeated id goes with the first
    }
    const shared: string[] = [];
    for (const file of medicationFiles) {
      const cursor = new TextCursor(file);
      for (cursor.advance(); cursor.head; cursor.advance())
        if (isMedication(cursor.head.line)) shared.push(cursor.head.line);
    }
    items.push({ shared, total: order.size });
    const position = new Map([...order.keys()].map((id, i) => [id, i]));
    const cursors = files
      .filter((f) => f !== patientFile && !medicationFiles.includes(f))
      .map((f) => new TextCursor(f));
    for (const cursor of cursors) cursor.advance();
    let index = 0;
    for (const [patientId, patientLines] of order) {
      const lines = [...patientLines];
      for (const cursor of cursors) {
        for (; cursor.head; cursor.advance()) {
          const { owner, line } = cursor.head;
          if (owner === undefined) continue;
          const at = position.get(owner);
          if (at === undefined) continue; // a patient not in Patient.ndjson: left out (and told)
          if (at < index) throw new UnorderedExportError(`${cursor.file}: a line for a patient not in this order`);
          if (at > index) break;
          lines.push(line);
        }
      }
      index++;
      items.push({ patientId, lines });
    }
  } catch (error) {
    return { items, error: describeError(error) };
  }
  return { items };
}

/** patientsInAnyOrder as the former read-whole path did it, on text. */
function referenceAnyOrder(folder: string): Outcome {
  const groups = new Map<string, string[]>();
  const shared: string[] = [];
  try {
    const files = ndjsonFiles(folder);
    const patientFile = files.find((f) => basename(f) === 'Patient.ndjson');
    // With a Patient.ndjson, only its patients are read; lines naming others are left out (and told).
    const known = new Set<string>();
    if (patientFile) {
      const cursor = new TextCursor(patientFile);
      for (cursor.advance(); cursor.head; cursor.advance()) if (cursor.head.owner) known.add(cursor.head.owner);
    }
    for (const id of known) groups.set(id, []); // patients in the order of Patient.ndjson
    for (const file of files) {
      const cursor = new TextCursor(file);
      for (cursor.advance(); cursor.head; cursor.advance()) {
        const { owner, line } = cursor.head;
        if (owner === undefined) {
          if (isMedication(line)) shared.push(line);
        } else if (known.size === 0 || known.has(owner)) groups.set(owner, [...(groups.get(owner) ?? []), line]);
      }
    }
  } catch (error) {
    return { items: [], error: describeError(error) };
  }
  return {
    items: [{ shared, total: groups.size }, ...[...groups].map(([patientId, lines]) => ({ patientId, lines }))],
  };
}

/** What a reader yields, each patient's bytes read back as lines, until it ends or throws. */
async function outcomeOf(reader: AsyncGenerator<CohortItem>): Promise<Outcome> {
  const items: Item[] = [];
  try {
    for await (const item of reader)
      items.push(
        'shared' in item || 'refused' in item ? item : { patientId: item.patientId, lines: ndjsonLines(item.ndjson) },
      );
  } catch (error) {
    return { items, error: describeError(error) };
  }
  return { items };
}

// ---------------------------------------------------------------------------------------------
// Generated exports.

/** How one resource line is written. */
interface Style {
  space: string;
  key: 'subject' | 'patient';
  base: string;
  typeFirst: boolean;
  display: boolean;
  decoys: boolean;
  contained: boolean;
  text: string;
}

const styleArb: fc.Arbitrary<Style> = fc.record({
  space: fc.constantFrom('', '', ' ', '\t', '  '),
  key: fc.constantFrom('subject', 'subject', 'patient'),
  // 'x' makes `xPatient/…`, which OWNER does not read (and lineOwner then finds no patient).
  base: fc.constantFrom('', '', 'https://fhir.example.org/r4/', `https://${'long.'.repeat(50)}example/`, 'urn:x/', 'x'),
  typeFirst: fc.constantFrom(true, true, true, false),
  display: fc.boolean(),
  decoys: fc.boolean(),
  contained: fc.constantFrom(...Array<boolean>(9).fill(false), true),
  text: fc.constantFrom('', 'Hämoglobin', '漢字 😀 ok', '"subject": see Patient/x', 'é'.repeat(40)),
});

/** A JSON object written with the style's spacing; resourceType first, or after the id. */
function objectLine(type: string, id: string, fields: string[], style: Style): string {
  const s = style.space;
  const head = [`"resourceType":${s}"${type}"`, `"id":${s}${JSON.stringify(id)}`];
  const all = [
    ...(style.typeFirst ? head : head.reverse()),
    `"note":[{"text":${JSON.stringify(style.text)}}]`,
    ...fields,
  ];
  return `${s}{${s}${all.join(`,${s}`)}${s}}`;
}

/** A resource of `owner`, perhaps with references to `other` patient before its own. */
function resourceLine(type: string, id: string, owner: string, other: string, style: Style): string {
  const s = style.space;
  const ref = `"reference":${s}"${style.base}Patient/${owner}"`;
  return objectLine(
    type,
    id,
    [
      ...(style.decoys ? [`"focus":[{"reference":"Patient/${other}"}]`, `"code":{"text":"subject"}`] : []),
      ...(style.contained
        ? [`"contained":[{"resourceType":"Observation","subject":{"reference":"Patient/${other}"}}]`]
        : []),
      `"${style.key}":${s}{${s}${style.display ? `"display":"x",${s}` : ''}${ref}${s}}`,
    ],
    style,
  );
}

const ID = fc.oneof(fc.stringMatching(/^[A-Za-z0-9.-]{1,6}$/), fc.constantFrom('é1', '漢字', 'x😀', 'p1/_history/2'));
/**
 * Lines JSON.parse rejects, some of them with an owner all the same (lineOwner reads the reference
 * without parsing). U+00A0 and U+2003 are whitespace to the regexes but not to JSON.parse, and
 * several bytes of UTF-8 each.
 */
const NOT_JSON = [
  'not json',
  '{"resourceType":"Observation",',
  '{"resourceType":"Patient","id":"z"',
  '{"resourceType":"Observation","subject":{"reference":"Patient/P0"},',
  '{"resourceType":"Observation",\u00a0"subject":\u00a0{\u00a0"reference":"Patient/P0"}}',
  '\u2003{"resourceType":"Observation","subject":\u2003{"reference":"Patient/P0"}}',
  '{"resourceType":"Observation","subject":{"display":"x",\u00a0"reference":"Patient/P0"}}',
  '\u00a0{"resourceType":"Patient","id":"z","contained":[{"resourceType":"Observation","subject":{"reference":"Patient/P0"}}]}',
];
const FILES = ['Observation', 'Condition', 'AllergyIntolerance'];

const exportArb = fc.record({
  patients: fc.uniqueArray(ID, { minLength: 1, maxLength: 4 }),
  patientStyle: styleArb,
  resources: fc.array(fc.record({ patient: fc.nat(), file: fc.nat(FILES.length - 1), style: styleArb }), {
    maxLength: 14,
  }),
  unowned: fc.array(fc.record({ at: fc.nat(), file: fc.nat(FILES.length - 1), medication: fc.boolean() }), {
    maxLength: 2,
  }),
  medications: fc.nat(2),
  blanks: fc.array(
    fc.record({ at: fc.nat(), file: fc.nat(FILES.length), line: fc.constantFrom('', ' ', '\t ', '\u00a0') }),
    { maxLength: 3 },
  ),
  notJson: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.record({ at: fc.nat(), file: fc.nat(FILES.length), line: fc.constantFrom(...NOT_JSON) }),
    },
  ),
  disorder: fc.constantFrom(
    ...Array<string>(12).fill('none'),
    'reverse',
    'unknown patient',
    'no Patient.ndjson',
    'repeated patient',
  ),
  eol: fc.constantFrom('\n', '\r\n'),
  finalEol: fc.boolean(),
  bom: fc.constantFrom(false, false, true),
});
type Export = typeof exportArb extends fc.Arbitrary<infer T> ? T : never;

/** Inserts `value` at a place `at` picks, whatever the length of the list. */
function insertAt<T>(list: T[], at: number, value: T): void {
  list.splice(at % (list.length + 1), 0, value);
}

/** Writes the export to a new folder: Patient.ndjson, the resource files, Medication.ndjson. */
function writeExport(e: Export): string {
  const ids = e.disorder === 'repeated patient' ? [...e.patients, e.patients[0] as string] : e.patients;
  // A Patient line belongs to its id whatever it holds: here perhaps a resource of another patient.
  const contained = (id: string) =>
    e.patientStyle.contained
      ? [`"contained":[{"resourceType":"Observation","subject":{"reference":"Patient/x${id}"}}]`]
      : [];
  const files: string[][] = [
    ids.map((id) => objectLine('Patient', id, contained(id), e.patientStyle)),
    ...FILES.map(() => []),
  ];
  const sorted = [...e.resources].sort((a, b) => (a.patient % e.patients.length) - (b.patient % e.patients.length));
  sorted.forEach((r, i) => {
    const owner = e.patients[r.patient % e.patients.length] as string;
    const other = e.patients[(r.patient + 1) % e.patients.length] as string;
    (files[r.file + 1] as string[]).push(resourceLine(FILES[r.file] as string, `r${i}`, owner, other, r.style));
  });
  for (const u of e.unowned)
    insertAt(
      files[u.file + 1] as string[],
      u.at,
      `{"resourceType":"${u.medication ? 'Medication' : 'Practitioner'}","id":"u"}`,
    );
  if (e.disorder === 'reverse') (files[1] as string[]).reverse();
  if (e.disorder === 'unknown patient')
    insertAt(files[1] as string[], 0, resourceLine('Observation', 'g', 'ghost', 'ghost', e.patientStyle));
  const medication = Array.from(
    { length: e.medications },
    (_, i) => `{"resourceType":"Medication","id":"m${i}","code":{"text":"Tocilizumab"}}`,
  );
  files.push(medication);
  for (const b of e.blanks) insertAt(files[b.file] as string[], b.at, b.line);
  if (e.notJson)
    insertAt(files[e.notJson.file] as string[], e.notJson.at, e.notJson.line.replace('P0', e.patients[0] as string));
  const folder = mkdtempSync(join(tmpdir(), 'ndjson-stream-'));
  ['Patient', ...FILES, 'Medication'].forEach((name, i) => {
    if (name === 'Patient' && e.disorder === 'no Patient.ndjson') return;
    const lines = files[i] as string[];
    const body = lines.join(e.eol) + (e.finalEol && lines.length > 0 ? e.eol : '');
    writeFileSync(join(folder, `${name}.ndjson`), (e.bom ? '\uFEFF' : '') + body);
  });
  return folder;
}

/** Chunk sizes from one byte (every character straddles) through a few lines each to the CLI's 1 MB. */
const chunkSizeArb = fc.oneof(
  fc.integer({ min: 1, max: 48 }),
  fc.integer({ min: 49, max: 1000 }),
  fc.constant(7),
  fc.constant(1 << 20),
);

async function withExport<T>(e: Export, run: (folder: string) => Promise<T>): Promise<T> {
  const folder = writeExport(e);
  try {
    return await run(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('the byte reader yields what reading the files as text line by line yields', () => {
  test.each([
    ['patientsInOrder: same patients, lines and error, for any chunk size', patientsInOrder, referenceInOrder, 200],
    [
      'patientsInAnyOrder: same groups, shared lines and error, for any chunk size',
      patientsInAnyOrder,
      referenceAnyOrder,
      150,
    ],
  ] as const)(
    '%s',
    async (_title, reader, reference, numRuns) => {
      await fc.assert(
        fc.asyncProperty(exportArb, chunkSizeArb, (e, chunkSize) =>
          withExport(e, async (folder) => {
            expect(await outcomeOf(reader(folder, { chunkSize }))).toEqual(reference(folder));
          }),
        ),
        { numRuns },
      );
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------------
// Hand-written cases.

function folderOf(files: Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), 'ndjson-stream-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(folder, name), body);
  return folder;
}

const patient = (id: string): string => `{"resourceType":"Patient","id":"${id}"}`;
const observation = (id: string, owner: string, extra = ''): string =>
  `{"resourceType":"Observation","id":"${id}",${extra}"subject":{"reference":"Patient/${owner}"}}`;

async function readFolder(
  files: Record<string, string>,
  chunkSize = 7,
  any = false,
  maxLineBytes?: number,
): Promise<Outcome> {
  const folder = folderOf(files);
  try {
    const options = { chunkSize, ...(maxLineBytes ? { maxLineBytes } : {}) };
    return await outcomeOf((any ? patientsInAnyOrder : patientsInOrder)(folder, options));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe('patientsInOrder, by hand', () => {
  test('a line straddling chunks and split inside multi-byte characters comes out whole', async () => {
    const text = '"note":[{"text":"Hämoglobin 漢字 😀"}],';
    const outcome = await readFolder({
      'Patient.ndjson': `${patient('a')}\n`,
      'Observation.ndjson': `${observation('o1', 'a', text)}\n`,
    });
    expect(outcome.items[1]).toEqual({ patientId: 'a', lines: [patient('a'), observation('o1', 'a', text)] });
  });

  test('CRLF, blank lines and a byte order mark: the lines without line ends, blank lines skipped', async () => {
    const outcome = await readFolder({
      'Patient.ndjson': `\uFEFF${patient('a')}\r\n\r\n${patient('b')}`,
      'Observation.ndjson': `\uFEFF${observation('o1', 'a')}\r\n  \r\n${observation('o2', 'b')}\r\n`,
    });
    expect(outcome).toEqual({
      items: [
        { shared: [], total: 2 },
        { patientId: 'a', lines: [patient('a'), observation('o1', 'a')] },
        { patientId: 'b', lines: [patient('b'), observation('o2', 'b')] },
      ],
    });
  });

  test('the owner is the first subject reference, not a Patient/ reference in an earlier field', async () => {
    const decoy = '"performer":[{"reference":"Patient/b"}],"code":{"text":"subject"},';
    const outcome = await readFolder({
      'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
      'Observation.ndjson': `${observation('o1', 'a', decoy)}\n${observation('o2', 'b')}\n`,
    });
    expect(outcome.items.slice(1)).toEqual([
      { patientId: 'a', lines: [patient('a'), observation('o1', 'a', decoy)] },
      { patientId: 'b', lines: [patient('b'), observation('o2', 'b')] },
    ]);
  });

  /** What a reader yields, and the lines it told of as not JSON. */
  async function readTelling(files: Record<string, string>, chunkSize: number): Promise<[Outcome, string[]]> {
    const unparsed: string[] = [];
    const folder = folderOf(files);
    try {
      const outcome = await outcomeOf(patientsInOrder(folder, { chunkSize, onUnparsed: (w) => unparsed.push(w) }));
      return [outcome, unparsed];
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }

  test('a line that is not JSON is left out and told by file and line number (blank lines counted); the rest is read', async () => {
    const [outcome, unparsed] = await readTelling(
      {
        'Patient.ndjson': `${patient('a')}\n`,
        'Observation.ndjson': `${observation('o1', 'a')}\n\n{"resourceType":"Observation",\n`,
      },
      7,
    );
    expect(outcome).toEqual({
      items: [
        { shared: [], total: 1 },
        { patientId: 'a', lines: [patient('a'), observation('o1', 'a')] },
      ],
    });
    expect(unparsed).toEqual(['Observation.ndjson line 3']);
  });

  test.each([
    // {"resourceType":"Observation","contained":[{},{}],"subject":{"reference":"Patient/a"}}: the top
    // value, then `{` ×4 (the resource, two contained, subject), `[` ×1, `,` ×3 and `:` ×4 = 13.
    [13, 'parsed'],
    [12, 'left out'],
  ])(
    'a line the reader parses for its owner (a contained resource) with 13 JSON values, at most %d allowed: %s, and told',
    async (maxJsonValues, what) => {
      const line = '{"resourceType":"Observation","contained":[{},{}],"subject":{"reference":"Patient/a"}}';
      const tooMany: string[] = [];
      const folder = folderOf({ 'Patient.ndjson': `${patient('a')}\n`, 'Observation.ndjson': `${line}\n` });
      try {
        const outcome = await outcomeOf(
          patientsInOrder(folder, { chunkSize: 7, maxJsonValues, onTooManyValues: (w) => tooMany.push(w) }),
        );
        const lines = what === 'parsed' ? [patient('a'), line] : [patient('a')];
        expect(outcome).toEqual({
          items: [
            { shared: [], total: 1 },
            { patientId: 'a', lines },
          ],
        });
        expect(tooMany).toEqual(what === 'parsed' ? [] : ['Observation.ndjson line 1']);
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    },
  );

  test.each([false, true])(
    'a line longer than the limit is a named error, not a file held whole in memory (read whole: %s)',
    async (any) => {
      // Line 1 is 76 bytes; line 2 is 120 (an Observation padded with spaces, no line end); limit 100.
      const long = observation('o2', 'a').padEnd(120, ' ');
      const outcome = await readFolder(
        { 'Patient.ndjson': `${patient('a')}\n`, 'Observation.ndjson': `${observation('o1', 'a')}\n${long}` },
        7,
        any,
        100,
      );
      expect(observation('o1', 'a')).toHaveLength(76);
      expect(outcome.error).toBe('AssessmentInputError: Observation.ndjson line 2 is longer than 100 bytes');
    },
  );

  test.each([7, 1 << 20])(
    'a line cut short before its reference is not JSON, though the next line completes it: both left out (chunks of %d bytes)',
    async (chunkSize) => {
      const [outcome, unparsed] = await readTelling(
        {
          'Patient.ndjson': `${patient('a')}\n`,
          'Observation.ndjson': `${observation('o1', 'a')}\n{"resourceType":"Observation","id":"o2","subject":\n{"reference":"Patient/a"}}\n`,
        },
        chunkSize,
      );
      expect(outcome.items[1]).toEqual({ patientId: 'a', lines: [patient('a'), observation('o1', 'a')] });
      expect(unparsed).toEqual(['Observation.ndjson line 2', 'Observation.ndjson line 3']);
    },
  );

  test('a line for a patient already passed: UnorderedExportError, so that the caller reads the folder whole', async () => {
    const outcome = await readFolder({
      'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
      'Observation.ndjson': `${observation('o2', 'b')}\n${observation('o1', 'a')}\n`,
    });
    expect(outcome.error).toMatch(
      /^UnorderedExportError: .*Observation\.ndjson: a line for a patient not in this order$/,
    );
    const whole = await readFolder(
      {
        'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
        'Observation.ndjson': `${observation('o2', 'b')}\n${observation('o1', 'a')}\n`,
      },
      7,
      true,
    );
    // Read whole, patients come in the order of Patient.ndjson, as read in order (not as first met:
    // Observation.ndjson comes before Patient.ndjson); each patient's lines in file name order.
    expect(whole.items.slice(1)).toEqual([
      { patientId: 'a', lines: [observation('o1', 'a'), patient('a')] },
      { patientId: 'b', lines: [observation('o2', 'b'), patient('b')] },
    ]);
    // Without a Patient.ndjson, as first met.
    const unlisted = await readFolder(
      { 'Observation.ndjson': `${observation('o2', 'b')}\n${observation('o1', 'a')}\n` },
      7,
      true,
    );
    expect(unlisted.items.slice(1).map((item) => ('patientId' in item ? item.patientId : item))).toEqual(['b', 'a']);
  });

  test.each([1, 7, 1 << 20])(
    'an id that is not a FHIR id (non-ASCII) names no patient, a line that is not UTF-8 is not read: each left out and told (chunks of %d bytes)',
    async (chunkSize) => {
      const folder = folderOf({ 'Patient.ndjson': `${patient('a')}\n${patient('é1')}\n` });
      const bytes = (text: string) => Buffer.from(text, 'latin1');
      // é1 as UTF-8, then as Latin-1 (0xE9 0x31: not UTF-8, decoded it would be U+FFFD 1), then a
      // line for a whose code has such a byte, then valid lines (é straddles chunks of 1 and 7 bytes).
      writeFileSync(
        join(folder, 'Observation.ndjson'),
        Buffer.concat([
          Buffer.from(`${observation('o0', 'a')}\n${observation('o1', 'é1')}\n`),
          bytes(`${observation('o2', '\u00e91')}\n${observation('o3', 'a', '"code":{"text":"H\u00e4moglobin"},')}\n`),
          Buffer.from(`${observation('o4', 'a', '"code":{"text":"Hämoglobin"},')}\n`),
        ]),
      );
      const hamoglobin = observation('o4', 'a', '"code":{"text":"Hämoglobin"},');
      try {
        for (const read of [patientsInOrder, patientsInAnyOrder]) {
          const unassigned: string[] = [];
          const invalid: string[] = [];
          const outcome = await outcomeOf(
            read(folder, { chunkSize, onUnassigned: (w) => unassigned.push(w), onInvalidUtf8: (w) => invalid.push(w) }),
          );
          expect(outcome.error).toBeUndefined();
          expect(invalid).toEqual(['Observation.ndjson line 3', 'Observation.ndjson line 4']);
          expect(outcome.items.slice(1)).toEqual([
            {
              patientId: 'a',
              lines:
                read === patientsInOrder
                  ? [patient('a'), observation('o0', 'a'), hamoglobin]
                  : [observation('o0', 'a'), hamoglobin, patient('a')],
            },
          ]);
          expect(unassigned.sort()).toEqual(['Observation.ndjson line 2', 'Patient.ndjson line 2']);
        }
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    },
  );

  test('Medication lines are shared with every patient', async () => {
    const medication = '{"resourceType":"Medication","id":"m","code":{"text":"Tocilizumab"}}';
    const outcome = await readFolder({ 'Patient.ndjson': patient('a'), 'Medication.ndjson': `${medication}\n` });
    expect(outcome.items[0]).toEqual({ shared: [medication], total: 1 });
  });

  test('each patient comes in a buffer of its own, shared memory that a worker reads without a copy', async () => {
    const folder = folderOf({
      'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
      'Observation.ndjson': `${observation('o1', 'a')}\n${observation('o2', 'b')}\n`,
    });
    try {
      for await (const item of patientsInOrder(folder)) {
        if (!('ndjson' in item)) continue;
        expect(item.ndjson.byteOffset).toBe(0);
        expect(item.ndjson.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(item.ndjson.buffer.byteLength).toBe(item.ndjson.byteLength);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('the worker reads the bytes it is given', () => {
  const task = (ndjson: string) => ({
    patientId: 'a',
    ndjson: Buffer.from(ndjson),
    shared: [],
    asOf: '2026-11-22',
    infusionDate: undefined,
    format: 'csv' as const,
    clinical: { thresholdsFile: undefined, localCodesFile: undefined, timeZone: 'UTC' },
  });

  test('ndjsonLines gives back the lines without their line ends', () => {
    expect(ndjsonLines(Buffer.from('a\r\nb\nc 😀\n'))).toEqual(['a', 'b', 'c 😀']);
  });

  test('ndjsonLines reads buffers of any size: lines across its 64 KB pieces, lines longer than a piece', () => {
    const lineArb = fc.record({
      text: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((t) => !/[\r\n]/.test(t)),
      times: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1000, max: 30_000 })),
      crlf: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 12 }), (specs) => {
        const lines = specs.map((l) => l.text.repeat(l.times));
        const ndjson = Buffer.from(specs.map((l, i) => `${lines[i] as string}${l.crlf ? '\r' : ''}\n`).join(''));
        expect(ndjsonLines(ndjson)).toEqual(lines);
      }),
      { numRuns: 200 },
    );
  });

  test('CRLF lines are assessed; a line that is not JSON is left out and counted, the rest assessed', () => {
    const valid = observation('o1', 'a', '"status":"final","code":{"text":"Hemoglobin"},');
    const good = assessPatient(task(`${patient('a')}\r\n${valid}\r\n`));
    expect(good).toMatchObject({ patientId: 'a', misplaced: 0, leftOut: 0 });
    expect('output' in good).toBe(true);
    const cut = assessPatient(
      task(`${patient('a')}\n${valid}\n{"resourceType":"Observation","subject":{"reference":"Patient/a"\n`),
    );
    expect(cut).toMatchObject({
      patientId: 'a',
      leftOut: 1,
      firstLeftOut: 'a line of this patient is not JSON; left out',
    });
    // The row says it: the CSV's issues column counts what was left out.
    const header = assessmentCsvHeader().split(',');
    const issues = (output: string): string | undefined => output.split(',')[header.indexOf('issues')];
    expect(issues((cut as { output: string }).output)).toBe(
      String(Number(issues((good as { output: string }).output)) + 1),
    );
  });
});

describe('owners as the engine reads them, and lines that name none', () => {
  // Each row: a reference, the patient it names (patientIdOf's rule, src/clinical/record.ts), or none.
  test.each([
    ['Patient/a', 'a'],
    ['https://ehr.example.org/fhir/Patient/a', 'a'],
    ['Patient/a/_history/2', 'a'],
    ['https://ehr.example.org/fhir/Patient/a/_history/2', 'a'],
    ['Patient\\/a', 'a'], // JSON's escaped slash
    ['Patient/\\u0061', 'a'], // an id written with a JSON escape
    ['Patient/', undefined],
    ['', undefined],
    ['Group/g1', undefined],
    ['urn:uuid:1234', undefined],
  ])('a reference %j names %j, through the byte reader and lineOwner alike', async (reference, owner) => {
    const line = `{"resourceType":"Observation","id":"o1","subject":{"reference":"${reference}"}}`;
    expect(lineOwner(line)).toBe(owner);
    const unassigned: string[] = [];
    const folder = folderOf({ 'Patient.ndjson': `${patient('a')}\n`, 'Observation.ndjson': `${line}\n` });
    try {
      const items: CohortItem[] = [];
      for await (const item of patientsInOrder(folder, { onUnassigned: (w) => unassigned.push(w) })) items.push(item);
      const lines = items.flatMap((i) => ('ndjson' in i ? ndjsonLines(i.ndjson) : []));
      expect(lines).toEqual(owner ? [patient('a'), line] : [patient('a')]);
      expect(unassigned).toEqual(owner ? [] : ['Observation.ndjson line 1']);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test("a contained resource's own patient reference, before the resource's, does not place the line", async () => {
    const line =
      '{"resourceType":"MedicationAdministration","id":"ma1","contained":[{"resourceType":"Provenance","patient":{"reference":"Patient/b"}}],"subject":{"reference":"Patient/a"}}';
    expect(lineOwner(line)).toBe('a');
    const outcome = await readFolder({
      'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
      'MA.ndjson': `${line}\n`,
    });
    expect(outcome).toEqual({
      items: [
        { shared: [], total: 2 },
        { patientId: 'a', lines: [patient('a'), line] },
        { patientId: 'b', lines: [patient('b')] },
      ],
    });
  });

  test('a patient with more lines than the cap is refused by name, its lines passed over; the next patient is read', async () => {
    const big = Array.from({ length: 20 }, (_, i) => observation(`o${i}`, 'a')).join('\n');
    for (const any of [false, true]) {
      const folder = folderOf({
        'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
        'Observation.ndjson': `${big}\n${observation('ob', 'b')}\n`,
      });
      try {
        const outcome = await outcomeOf((any ? patientsInAnyOrder : patientsInOrder)(folder, { maxPatientBytes: 256 }));
        expect(outcome.items.slice(1)).toEqual(
          expect.arrayContaining([
            { patientId: 'a', refused: 'more than 256 bytes of lines in the export; not assessed' },
            {
              patientId: 'b',
              lines: any ? [observation('ob', 'b'), patient('b')] : [patient('b'), observation('ob', 'b')],
            },
          ]),
        );
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    }
  });

  test('more than one patient key (an extension holding one, `patient` before `subject`): the line is read as the engine reads it', async () => {
    const nested =
      '{"resourceType":"Observation","id":"o1","extension":[{"url":"x","valueReference":{"subject":{"reference":"Patient/b"}}}],"subject":{"reference":"Patient/a"}}';
    const patientFirst =
      '{"resourceType":"Observation","id":"o2","patient":{"reference":"Patient/b"},"subject":{"reference":"Patient/a"}}';
    expect([lineOwner(nested), lineOwner(patientFirst)]).toEqual(['a', 'a']);
    const outcome = await readFolder({
      'Patient.ndjson': `${patient('a')}\n${patient('b')}\n`,
      'Observation.ndjson': `${nested}\n${patientFirst}\n`,
    });
    expect(outcome.items.slice(1)).toEqual([
      { patientId: 'a', lines: [patient('a'), nested, patientFirst] },
      { patientId: 'b', lines: [patient('b')] },
    ]);
  });

  test('Patient.ndjson with a line without an id and a repeated id is still read in order: the first told, the second with its patient', async () => {
    const unassigned: string[] = [];
    const folder = folderOf({
      'Patient.ndjson': `${patient('a')}\n{}\n${patient('b')}\n${patient('a')}\n`,
      'Observation.ndjson': `${observation('o1', 'a')}\n${observation('o2', 'b')}\n`,
    });
    try {
      const outcome = await outcomeOf(patientsInOrder(folder, { onUnassigned: (w) => unassigned.push(w) }));
      expect(outcome).toEqual({
        items: [
          { shared: [], total: 2 },
          { patientId: 'a', lines: [patient('a'), patient('a'), observation('o1', 'a')] },
          { patientId: 'b', lines: [patient('b'), observation('o2', 'b')] },
        ],
      });
      expect(unassigned).toEqual(['Patient.ndjson line 2']);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('Medication lines past 8 MB (each goes to every patient) are a named error, in order and read whole', async () => {
    const medication = (i: number) =>
      `{"resourceType":"Medication","id":"m${i}","code":{"text":"${'x'.repeat(1000)}"}}`;
    const lines = Array.from({ length: 8500 }, (_, i) => medication(i)).join('\n');
    for (const any of [false, true]) {
      const outcome = await readFolder(
        { 'Patient.ndjson': `${patient('a')}\n`, 'Medication.ndjson': `${lines}\n` },
        1 << 20,
        any,
      );
      expect(outcome.error).toBe(
        'AssessmentInputError: Medication.ndjson: more than 8 MB of Medications, which every patient is given; not read',
      );
    }
  });

  test('lines that are JSON but no resource naming a patient, and non-Medication lines of Medication.ndjson, are told', async () => {
    const unassigned: string[] = [];
    const folder = folderOf({
      'Patient.ndjson': `${patient('a')}\n`,
      'Observation.ndjson': `null\n[]\n1\n"x"\n{}\n${observation('o1', 'a')}\n`,
      'Medication.ndjson': `${observation('o2', 'a')}\n`,
    });
    try {
      for (const read of [patientsInOrder, patientsInAnyOrder]) {
        unassigned.length = 0;
        for await (const item of read(folder, { onUnassigned: (w) => unassigned.push(w) })) void item;
        expect(unassigned.sort()).toEqual(
          [1, 2, 3, 4, 5]
            .map((n) => `Observation.ndjson line ${n}`)
            .concat(read === patientsInOrder ? ['Medication.ndjson line 1'] : [])
            .sort(),
        );
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('a .ndjson that is not a regular file is refused by name; compressed NDJSON is listed', () => {
    const folder = folderOf({ 'Patient.ndjson': `${patient('a')}\n`, 'Observation.ndjson.gz': 'x' });
    try {
      expect(entriesNotRead(folder)).toEqual([
        { name: 'Observation.ndjson.gz', why: 'compressed files are not read; decompress it into the folder first' },
      ]);
      execFileSync('mkfifo', [join(folder, 'Observation.ndjson')]);
      expect(() => ndjsonFiles(folder)).toThrow(new AssessmentInputError('Observation.ndjson is not a regular file'));
      rmSync(join(folder, 'Observation.ndjson'));
      symlinkSync(join(folder, 'nothing'), join(folder, 'Observation.ndjson'));
      expect(() => ndjsonFiles(folder)).toThrow(
        new AssessmentInputError('cannot read Observation.ndjson: ENOENT (a link to nothing?)'),
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
