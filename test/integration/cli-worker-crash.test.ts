/**
 * The CLI (`cart-hematotox assess`) on a folder with a patient that exhausts the heap of the worker
 * thread assessing it, run as a real child process: the worker dies for real (ERR_WORKER_OUT_OF_MEMORY),
 * that patient is reported as failed, and the others are assessed (piscina starts another worker;
 * patients waiting behind the dead one are sent again).
 *
 * The heap is Node's own setting, `--max-old-space-size`, which bounds every thread: 128 MB makes
 * the worker die in a second or two instead of filling the default heap (4 GB on most machines).
 * The patient is under the 256 MB cap of lines per patient and under the cap of JSON values a
 * thread parses (cli/heap.ts): 40 lines of a 2.5 MB note each, which decoded and parsed take twice
 * their 100 MB.
 *
 * Lines holding more JSON values than that cap are not parsed at all: such a patient is reported as
 * not assessed (its worker lives on), such a line the reader would have to parse on the main thread
 * is left out and counted. Before the cap, a 189 MB line of `{},` took 254 s and 8.9 GB of RSS to
 * kill a worker with a 4 GB heap, after the main thread had parsed it too.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from '@jest/globals';

const TODAY = '2026-11-22';
const run = promisify(execFile);

const IDS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
const observationLine = (id: string): string =>
  `{"resourceType":"Observation","id":"o-${id}","status":"final","code":{"text":"note"},"subject":{"reference":"Patient/${id}"}}\n`;

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** An export of IDS, with `extra` lines after the Observation of each patient it names. */
function exportWith(extra: Partial<Record<string, string>>): string {
  const folder = mkdtempSync(join(tmpdir(), 'cli-worker-crash-'));
  folders.push(folder);
  writeFileSync(join(folder, 'Patient.ndjson'), IDS.map((id) => `{"resourceType":"Patient","id":"${id}"}\n`).join(''));
  writeFileSync(join(folder, 'Observation.ndjson'), IDS.map((id) => observationLine(id) + (extra[id] ?? '')).join(''));
  return folder;
}

/** The CLI over `folder` with a 128 MB heap per thread, CSV on stdout. */
function assess128(folder: string): Promise<{ stdout: string; stderr: string }> {
  return run(
    process.execPath,
    [
      '--max-old-space-size=128',
      '--import',
      'tsx',
      'src/cli/assess.ts',
      'assess',
      folder,
      '--as-of',
      TODAY,
      '--format',
      'csv',
    ],
    { maxBuffer: 1 << 24 },
  );
}

const patientsOf = (csv: string): string[] =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((row) => row.split(',')[0] ?? '');

/** A line of `values` JSON values or more: `{},` repeated in a member of its own. */
const denseLine = (head: string, values: number): string => `{${head},"x":[${'{},'.repeat(values)}{}]}\n`;

// With one core there are no worker threads: the main thread assesses every patient, and one that
// exhausts its heap ends the process (README).
const withWorkers = availableParallelism() > 1 ? test : test.skip;

describe('CLI: a worker thread that dies on one patient costs that patient alone', () => {
  withWorkers(
    'out of memory: that patient failed with the reason, the others assessed, exit 0 as for any failed patient',
    async () => {
      // 100 MB of notes: few JSON values, but decoded and parsed some 200 MB of strings.
      const heavy = `{"subject":{"reference":"Patient/p3"},"note":[{"text":"${'x'.repeat(2_500_000)}"}]}\n`.repeat(40);
      const { stdout, stderr } = await assess128(exportWith({ p3: heavy }));
      expect(stderr).toMatch(
        new RegExp(
          '^patient p3: the worker assessing this patient ran out of memory ' +
            "\\(this patient's lines, parsed, need more than a thread's \\d+ MB heap\\); not assessed\\n" +
            `assessed 7 patient\\(s\\) as of ${TODAY}, 1 failed\\n$`,
        ),
      );
      expect(patientsOf(stdout)).toEqual(['p1', 'p2', 'p4', 'p5', 'p6', 'p7', 'p8']);
    },
    60_000,
  );
});

describe('CLI: lines holding more JSON values than a thread may parse are not parsed', () => {
  // A 128 MB heap: V8's limit is some 176 MB, the cap a 256th of it, about 720,000 values.
  const folderWith = (values: number): string =>
    exportWith({
      // Its owner found in its bytes: goes to the thread assessing p3, which counts before it parses.
      p3: denseLine('"resourceType":"Observation","subject":{"reference":"Patient/p3"}', values),
      // A contained resource: the reader parses the line to find its owner, on the main thread.
      p5: denseLine('"resourceType":"Observation","contained":[],"subject":{"reference":"Patient/p5"}', values),
    });

  test('900,000 values in a line (2.7 MB): its patient is not assessed, or the line is left out where the reader would parse it; the others are assessed', async () => {
    const { stdout, stderr } = await assess128(folderWith(900_000));
    expect(stderr).toMatch(
      new RegExp(
        "^patient p3: this patient's lines hold more than [\\d,]+ JSON values, more than a thread's \\d+ MB heap can parse; not assessed\\n" +
          "1 line\\(s\\) left out: more than [\\d,]+ JSON values, more than a thread's \\d+ MB heap can parse to find their patient \\(first: Observation.ndjson line 7\\)\\n" +
          `assessed 7 patient\\(s\\) as of ${TODAY}, 1 failed\\n$`,
      ),
    );
    expect(patientsOf(stdout)).toEqual(['p1', 'p2', 'p4', 'p5', 'p6', 'p7', 'p8']);
  }, 60_000);

  test('a Bundle file of 900,000 values (2.7 MB), parsed on the main thread: exit 2 naming it and the cap; nothing written', async () => {
    const folder = exportWith({});
    const file = join(folder, 'bundle.json');
    writeFileSync(file, `{"resourceType":"Bundle","type":"collection","entry":[${'{},'.repeat(900_000)}{}]}`);
    await expect(assess128(file)).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(
        new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds more than [\\d,]+ JSON values, more than a thread's \\d+ MB heap can parse \\(give a Bulk Data NDJSON folder instead\\)\\n$`,
        ),
      ) as unknown,
    });
  }, 60_000);

  test('the same lines with 300,000 values are parsed: read, screened (no status, so left out as any such resource) and every patient assessed', async () => {
    const { stdout, stderr } = await assess128(folderWith(300_000));
    expect(stderr).toBe(
      '2 resource(s) left out: not the shape the engine reads (first: Observation (no usable id) status: Invalid input: expected string, received undefined; resource left out )\n' +
        `assessed 8 patient(s) as of ${TODAY}\n`,
    );
    expect(patientsOf(stdout)).toEqual(IDS);
  }, 60_000);
});
