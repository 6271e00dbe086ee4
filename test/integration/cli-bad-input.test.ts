/**
 * The CLI (`cart-hematotox assess`) run as a child process on bad input, as README's "What the
 * service does with bad input" promises: nothing is lost without a word, an existing `--out` file is
 * replaced only by a complete report.
 */
import { execFile } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';
import { demoPatients } from '../../src/demo/demo-patients.js';

const TODAY = '2026-11-22';
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/assess.ts', ...args]);

const aplastic = demoPatients(TODAY).find((p) => p.scenario.id === 'cart-aplastic');
/** The demo patient's resources of `types`, one NDJSON line each. */
const lines = (...types: string[]): string =>
  (aplastic?.resources ?? [])
    .filter((r) => types.includes(r.resourceType))
    .map((r) => `${JSON.stringify(r)}\n`)
    .join('');
/** A folder holding `files` (a name ending in '/' is a subfolder). */
function folder(files: Record<string, string>): string {
  const at = mkdtempSync(join(tmpdir(), 'cli-folder-'));
  for (const [name, text] of Object.entries(files))
    if (name.endsWith('/')) mkdirSync(join(at, name));
    else writeFileSync(join(at, name), text);
  return at;
}

describe('CLI --out: a run that assesses nobody replaces nothing', () => {
  test.each(['json', 'csv'])(
    'a Bundle without a patient (--format %s): exit 2 with the reason, the previous report kept, no partial copy',
    async (format) => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-nobody-'));
      const input = join(dir, 'empty.json');
      writeFileSync(input, '{"resourceType":"Bundle","type":"collection"}');
      const outDir = mkdtempSync(join(tmpdir(), 'cli-nobody-out-'));
      const out = join(outDir, `report.${format}`);
      writeFileSync(out, 'the previous run\n');
      await expect(cli('assess', input, '--as-of', TODAY, '--format', format, '--out', out)).rejects.toMatchObject({
        code: 2,
        stdout: '',
        stderr:
          'patient (bundle): no patient: give a Patient resource or resources with a subject\n' +
          `assessed 0 patient(s) as of ${TODAY}, 1 failed: nothing written\n`,
      });
      expect(readFileSync(out, 'utf8')).toBe('the previous run\n');
      expect(readdirSync(outDir)).toEqual([`report.${format}`]);
      // To standard output: nothing either (it was `undefined` for JSON, a header alone for CSV).
      await expect(cli('assess', input, '--as-of', TODAY, '--format', format)).rejects.toMatchObject({
        code: 2,
        stdout: '',
      });
    },
    30_000,
  );
});

describe('CLI on a Bulk Data folder: what is not read is named', () => {
  test('.ndjson in any case is read; every other file and every subfolder is named on stderr as not read', async () => {
    const exported = {
      'Patient.ndjson': lines('Patient'),
      'Procedure.ndjson': lines('Procedure', 'MedicationAdministration'),
    };
    const expected = await cli(
      'assess',
      folder({ ...exported, 'Observation.ndjson': lines('Observation') }),
      '--as-of',
      TODAY,
      '--format',
      'csv',
    );
    const { stdout, stderr } = await cli(
      'assess',
      folder({
        ...exported,
        'Observation.NDJSON': lines('Observation'),
        'Observation.jsonl': lines('Observation'),
        'Observation.ndjson.gz': 'x',
        'part1/': '',
        'manifest.json': '{}',
      }),
      '--as-of',
      TODAY,
      '--format',
      'csv',
    );
    expect(stdout).toBe(expected.stdout); // the upper-case file was read
    expect(stdout).toMatch(/\ncart-aplastic,/);
    expect(stderr).toBe(
      [
        'Observation.jsonl not read: not a .ndjson file',
        'Observation.ndjson.gz not read: compressed files are not read; decompress it into the folder first',
        'manifest.json not read: not a .ndjson file',
        'part1 not read: a subfolder; only the .ndjson files of the folder itself are read',
        `assessed 1 patient(s) as of ${TODAY}`,
        '',
      ].join('\n'),
    );
  }, 30_000);
});

describe('CLI: bytes that are not valid UTF-8 are refused, never read as U+FFFD', () => {
  /** `text` with the byte 0xFF (never valid UTF-8) in place of its first `"751-8"` code's dash: a LOINC code that matches nothing when decoded. */
  const spoilt = (text: string): Buffer => {
    const at = text.indexOf('"751-8"');
    expect(at).toBeGreaterThan(0);
    return Buffer.concat([Buffer.from(text.slice(0, at + 4)), Buffer.from([0xff]), Buffer.from(text.slice(at + 5))]);
  };

  test('a Bundle file: exit 2 naming it (POST /assessments answers 400 for the same bytes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-utf8-'));
    const file = join(dir, 'bundle.json');
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: aplastic?.resources.map((resource) => ({ resource })),
    };
    writeFileSync(file, spoilt(JSON.stringify(bundle)));
    await expect(cli('assess', file, '--as-of', TODAY)).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: `${file} is not valid UTF-8\n`,
    });
  }, 30_000);

  test('a line of a Bulk Data file: left out and counted with its file and line; the rest is assessed', async () => {
    const observations = lines('Observation');
    const at = observations.indexOf('"751-8"');
    const lineNumber = observations.slice(0, at).split('\n').length;
    const input = folder({
      'Patient.ndjson': lines('Patient'),
      'Procedure.ndjson': lines('Procedure', 'MedicationAdministration'),
    });
    writeFileSync(join(input, 'Observation.ndjson'), spoilt(observations));
    const { stdout, stderr } = await cli('assess', input, '--as-of', TODAY, '--format', 'csv');
    expect(stdout).toMatch(/\ncart-aplastic,/);
    expect(stderr).toBe(
      `1 line(s) left out: not valid UTF-8 (first: Observation.ndjson line ${lineNumber})\n` +
        `assessed 1 patient(s) as of ${TODAY}\n`,
    );
  }, 30_000);
});

describe('CLI arguments', () => {
  test.each([
    [['b.json'], 'b.json'],
    [['b.json', 'c'], 'b.json c'],
    [['b.json', '--format', 'csv'], 'b.json'], // an option after them is still an option
  ])(
    'extra paths after the input (%j): exit 1 naming them, nothing assessed',
    async (extra, named) => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-args-'));
      const input = join(dir, 'a.json');
      writeFileSync(input, '{"resourceType":"Bundle","type":"collection"}');
      await expect(cli('assess', input, ...extra, '--as-of', TODAY)).rejects.toMatchObject({
        code: 1,
        stdout: '',
        stderr: expect.stringMatching(
          new RegExp(
            `^assess takes one Bundle file or folder; also given: ${named}\\n\\nUsage: cart-hematotox assess `,
          ),
        ),
      });
    },
    30_000,
  );
});

describe('CLI: names from the input are printed with control characters escaped', () => {
  /** ESC sequences that retitle the terminal and clear it, and a line end that would forge a line of the report. */
  const HOSTILE = '\x1b]0;PWNED\x07\x1b[2J\x1b[31mX\nassessed 9 patient(s)\u202e';
  const SHOWN = '\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[31mX\\x0aassessed 9 patient(s)\\u202e';
  const exported = (): Record<string, string> => ({
    'Patient.ndjson': lines('Patient'),
    'Procedure.ndjson': lines('Procedure', 'MedicationAdministration'),
  });

  test.each<[string, () => string[], number, (at: string) => string]>([
    [
      'a file of the folder not read',
      () => [folder({ ...exported(), [`${HOSTILE}.txt`]: '' })],
      0,
      () => `${SHOWN}.txt not read: not a .ndjson file\nassessed 1 patient(s) as of ${TODAY}\n`,
    ],
    [
      'a .ndjson that is a folder',
      () => [folder({ ...exported(), [`${HOSTILE}.ndjson/`]: '' })],
      2,
      () => `${SHOWN}.ndjson is not a regular file\n`,
    ],
    [
      'the file and line of a line left out',
      () => [folder({ ...exported(), [`${HOSTILE}.ndjson`]: 'null\n' })],
      0,
      () =>
        `1 line(s) left out: no patient reference could be read, or not a resource (first: ${SHOWN}.ndjson line 1)\n` +
        `assessed 1 patient(s) as of ${TODAY}\n`,
    ],
    [
      'a Bundle file that is not JSON',
      () => {
        const file = join(mkdtempSync(join(tmpdir(), 'cli-names-')), HOSTILE);
        writeFileSync(file, 'not JSON');
        return [file];
      },
      2,
      (at) => `${at.replace(HOSTILE, SHOWN)} is not JSON\n`,
    ],
    [
      'an --out that cannot be written',
      () => {
        const file = join(mkdtempSync(join(tmpdir(), 'cli-names-')), 'b.json');
        writeFileSync(file, '{}');
        return [file, '--out', join(tmpdir(), HOSTILE, 'out.csv')];
      },
      2,
      () => `cannot write ${join(tmpdir(), SHOWN, 'out.csv')}: ENOENT\n`,
    ],
    [
      'an extra argument',
      () => [tmpdir(), HOSTILE],
      1,
      () => `assess takes one Bundle file or folder; also given: ${SHOWN}\n\n`,
    ],
  ])(
    '%s',
    async (_name, args, code, message) => {
      const [input = '', ...rest] = args();
      const outcome = await cli('assess', input, ...rest, '--as-of', TODAY, '--format', 'csv').then(
        ({ stderr }) => ({ code: 0, stderr }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
      expect(outcome.code).toBe(code);
      const expected = message(input);
      expect(code === 1 ? outcome.stderr.slice(0, expected.length) : outcome.stderr).toBe(expected);
      expect(outcome.stderr.replaceAll('\n', '')).not.toMatch(/[\p{Cc}\u202e]/u); // line ends only its own
    },
    30_000,
  );
});

describe('CLI --out replaced in place: its mode kept, a link written through', () => {
  const bundleFile = (): string => {
    const file = join(mkdtempSync(join(tmpdir(), 'cli-mode-')), 'bundle.json');
    const entry = (aplastic?.resources ?? []).map((resource) => ({ resource }));
    writeFileSync(file, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry }));
    return file;
  };

  test.each([
    ['an existing 0600 report stays 0600', 0o600, 0o600],
    ['an existing 0640 report stays 0640', 0o640, 0o640],
    ['an existing 0644 report stays 0644', 0o644, 0o644],
    ['a new report is 0600: it holds patient data', undefined, 0o600],
  ])(
    '%s',
    async (_name, before, after) => {
      const outDir = mkdtempSync(join(tmpdir(), 'cli-mode-out-'));
      const out = join(outDir, 'report.csv');
      if (before !== undefined) {
        writeFileSync(out, 'the previous run\n');
        chmodSync(out, before);
      }
      await cli('assess', bundleFile(), '--as-of', TODAY, '--format', 'csv', '--out', out);
      expect(readFileSync(out, 'utf8')).toMatch(/^patientId,.*\ncart-aplastic,/s);
      expect(statSync(out).mode & 0o777).toBe(after);
      expect(readdirSync(outDir)).toEqual(['report.csv']);
    },
    30_000,
  );

  test('a symbolic link: its target is replaced (mode kept), the link stays a link, no partial copy left', async () => {
    const linkDir = mkdtempSync(join(tmpdir(), 'cli-link-'));
    const targetDir = mkdtempSync(join(tmpdir(), 'cli-link-target-'));
    const target = join(targetDir, 'cohort.csv');
    writeFileSync(target, 'the previous run\n');
    chmodSync(target, 0o600);
    const link = join(linkDir, 'latest.csv');
    symlinkSync(target, link);
    await cli('assess', bundleFile(), '--as-of', TODAY, '--format', 'csv', '--out', link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toMatch(/^patientId,.*\ncart-aplastic,/s);
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect([readdirSync(linkDir), readdirSync(targetDir)]).toEqual([['latest.csv'], ['cohort.csv']]);
  }, 30_000);

  test('a symbolic link to the input is refused before any work (exit 1): the input is never overwritten', async () => {
    const input = bundleFile();
    const link = join(mkdtempSync(join(tmpdir(), 'cli-link-')), 'out.json');
    symlinkSync(input, link);
    const before = readFileSync(input, 'utf8');
    await expect(cli('assess', input, '--as-of', TODAY, '--out', link)).rejects.toMatchObject({
      code: 1,
      stderr: `--out must not be the input or inside its folder (${link})\n`,
    });
    expect(readFileSync(input, 'utf8')).toBe(before);
  }, 30_000);
});
