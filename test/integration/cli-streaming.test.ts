/**
 * The CLI (`cart-hematotox assess`) on a Bulk Data folder, run as a child process: each patient's
 * output is written as its turn comes, in the order of Patient.ndjson; an export found out of order
 * only late in the reading is still read whole and written once.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';

const TODAY = '2026-11-22';
const run = promisify(execFile);
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/assess.ts', ...args], { maxBuffer: 1 << 28 });

const patientLine = (id: string): string => `{"resourceType":"Patient","id":"${id}"}\n`;
const observationLine = (id: string): string =>
  `{"resourceType":"Observation","id":"o-${id}","status":"final","code":{"text":"note"},"subject":{"reference":"Patient/${id}"}}\n`;

/** Patients in Patient.ndjson last id first (p300 … p001): the order the outputs must keep. */
const IDS = Array.from({ length: 300 }, (_, i) => `p${String(300 - i).padStart(3, '0')}`);

/**
 * An export whose Observation.ndjson follows Patient.ndjson but for its first patient's line, put
 * last: the reader finds it out of order only at the end, long after the first outputs were due.
 */
function lateDisorder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'cli-late-disorder-'));
  writeFileSync(join(folder, 'Patient.ndjson'), IDS.map(patientLine).join(''));
  writeFileSync(join(folder, 'Observation.ndjson'), [...IDS.slice(1), IDS[0] ?? ''].map(observationLine).join(''));
  return folder;
}

const rowIds = (csv: string): string[] =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((row) => row.split(',')[0] ?? '');

describe('CLI on a folder: outputs in the order of Patient.ndjson, each patient once', () => {
  const stderr =
    `the export is not written patient by patient (${'Observation.ndjson'}: a line for a patient not in this order); reading it whole\n` +
    `assessed 300 patient(s) as of ${TODAY}\n`;

  test('--out: found out of order after outputs were written, the partial copy starts over; the report holds each patient once', async () => {
    const input = lateDisorder();
    const outDir = mkdtempSync(join(tmpdir(), 'cli-late-out-'));
    const out = join(outDir, 'cohort.csv');
    const done = await cli('assess', input, '--as-of', TODAY, '--format', 'csv', '--out', out);
    expect(done.stderr).toBe(stderr.replace('Observation.ndjson', join(input, 'Observation.ndjson')));
    expect(rowIds(readFileSync(out, 'utf8'))).toEqual(IDS);
    expect(readdirSync(outDir)).toEqual(['cohort.csv']);
  }, 60_000);

  test('standard output: the order is checked before anything is written, and the export read whole', async () => {
    const input = lateDisorder();
    const { stdout, stderr: said } = await cli('assess', input, '--as-of', TODAY, '--format', 'csv');
    expect(said).toBe(stderr.replace('Observation.ndjson', join(input, 'Observation.ndjson')));
    expect(rowIds(stdout)).toEqual(IDS);
  }, 60_000);
});
