/**
 * The CLI (`cart-hematotox assess`) on a folder with a patient that exhausts the heap of the worker
 * thread assessing it, run as a real child process: the worker dies for real (ERR_WORKER_OUT_OF_MEMORY),
 * that patient is reported as failed, and the others are assessed (piscina starts another worker;
 * patients waiting behind the dead one are sent again).
 *
 * The heap is Node's own setting, `--max-old-space-size`, which bounds every thread: 128 MB makes
 * the worker die in a second or two instead of filling the default heap (4 GB on most machines).
 * The patient is under the 256 MB cap of lines per patient: a million small lines naming it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from '@jest/globals';

const TODAY = '2026-11-22';
const run = promisify(execFile);

const IDS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
const observationLine = (id: string): string =>
  `{"resourceType":"Observation","id":"o-${id}","status":"final","code":{"text":"note"},"subject":{"reference":"Patient/${id}"}}\n`;

function exportWithHeavyPatient(): string {
  const folder = mkdtempSync(join(tmpdir(), 'cli-worker-crash-'));
  writeFileSync(join(folder, 'Patient.ndjson'), IDS.map((id) => `{"resourceType":"Patient","id":"${id}"}\n`).join(''));
  // 39 MB: parsed, some 200 MB of objects.
  const heavy = '{"subject":{"reference":"Patient/p3"}}\n'.repeat(1_000_000);
  writeFileSync(
    join(folder, 'Observation.ndjson'),
    IDS.map((id) => observationLine(id) + (id === 'p3' ? heavy : '')).join(''),
  );
  return folder;
}

// With one core there are no worker threads: the main thread assesses every patient, and one that
// exhausts its heap ends the process (README).
const withWorkers = availableParallelism() > 1 ? test : test.skip;

describe('CLI: a worker thread that dies on one patient costs that patient alone', () => {
  withWorkers(
    'out of memory: that patient failed with the reason, the others assessed, exit 0 as for any failed patient',
    async () => {
      const { stdout, stderr } = await run(
        process.execPath,
        [
          '--max-old-space-size=128',
          '--import',
          'tsx',
          'src/cli/assess.ts',
          'assess',
          exportWithHeavyPatient(),
          '--as-of',
          TODAY,
          '--format',
          'csv',
        ],
        { maxBuffer: 1 << 24 },
      );
      expect(stderr).toMatch(
        new RegExp(
          '^patient p3: the worker assessing this patient ran out of memory ' +
            "\\(this patient's lines, parsed, need more than a thread's \\d+ MB heap\\); not assessed\\n" +
            `assessed 7 patient\\(s\\) as of ${TODAY}, 1 failed\\n$`,
        ),
      );
      const rows = stdout.trim().split('\n').slice(1);
      expect(rows.map((row) => row.split(',')[0])).toEqual(['p1', 'p2', 'p4', 'p5', 'p6', 'p7', 'p8']);
    },
    60_000,
  );
});
