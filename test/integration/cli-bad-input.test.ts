/**
 * The CLI (`cart-hematotox assess`) run as a child process on bad input, as README's "What the
 * service does with bad input" promises: nothing is lost without a word, an existing `--out` file is
 * replaced only by a complete report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';

const TODAY = '2026-11-22';
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/assess.ts', ...args]);

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
