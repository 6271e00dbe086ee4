/**
 * The CLI over a FHIR Bulk Data export of 400 synthetic patients (about 114,000 Observations), and
 * of 1,600 (in the detail: the start-up's share shrinks with the export's size): the
 * compiled `cart-hematotox assess <folder> --format csv`, run through a `node_modules/.bin`-style
 * symlink as `npx` runs it, divided by reading the same files line by line and JSON.parse-ing
 * every line in one thread (measured in this process, so without a process start-up).
 * Interleaved, REPS repetitions. Run: npx tsx bench/cli.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ndjsonFiles } from '../src/cli/ndjson-stream.js';
import { compiled } from './lib/compile.js';
import { ROOT } from './lib/processes.js';
import { type Row, runAsScript, spread } from './lib/stats.js';

const REPS = Number(process.env['REPS'] ?? 3);

async function readAndParse(folder: string): Promise<number> {
  const started = performance.now();
  let n = 0;
  for (const file of ndjsonFiles(folder))
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity }))
      if (line.trim()) {
        JSON.parse(line);
        n++;
      }
  if (n === 0) throw new Error('no lines');
  return performance.now() - started;
}

/** A synthetic Bulk Data export of `n` patients (scripts/generate-cohort.ts) in `folder`. */
function generateCohort(n: number, folder: string): void {
  execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/generate-cohort.ts',
      '--n',
      String(n),
      '--seed',
      '2002',
      '--today',
      '2026-11-22',
      '--out',
      folder,
    ],
    { cwd: ROOT, stdio: 'ignore' },
  );
}

/** The CLI's time and the floor's, REPS times in turn, for one export. */
async function timeCohort(
  cli: (folder: string) => number,
  folder: string,
): Promise<{ ratios: number[]; cliMs: number[]; floorMs: number[] }> {
  cli(folder); // warm the file cache
  await readAndParse(folder);
  const ratios: number[] = [];
  const cliMs: number[] = [];
  const floorMs: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const c = cli(folder);
    const f = await readAndParse(folder);
    cliMs.push(c);
    floorMs.push(f);
    ratios.push(c / f);
  }
  return { ratios, cliMs, floorMs };
}

const seconds = (ms: number[]): string => spread(ms.map((m) => m / 1000));

export async function benchCli(): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'cart-cli-'));
  try {
    const cohort = join(work, 'cohort');
    // Four times the patients: what of the CLI's time is its start (process, modules, worker
    // threads, JIT warm-up), paid once whatever the export's size, and what grows with the export.
    const larger = join(work, 'cohort-1600');
    generateCohort(400, cohort);
    generateCohort(1600, larger);
    // What npm makes of the `bin` entry: a symlink in node_modules/.bin.
    const bin = join(work, 'node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(compiled(), 'dist/src/cli/assess.js'), join(bin, 'cart-hematotox'));
    const cli = (folder: string): number => {
      const started = performance.now();
      const run = spawnSync(
        process.execPath,
        [
          join(bin, 'cart-hematotox'),
          'assess',
          folder,
          '--as-of',
          '2026-11-22',
          '--format',
          'csv',
          '--out',
          join(work, 'out.csv'),
        ],
        { encoding: 'utf8' },
      );
      const ms = performance.now() - started;
      if (run.status !== 0 || !/assessed \d+ patient\(s\)/.test(run.stderr))
        throw new Error(`CLI failed (${run.status}): ${run.stderr}`);
      return ms;
    };
    const small = await timeCohort(cli, cohort);
    const rows = readFileSync(join(work, 'out.csv'), 'utf8').trim().split('\n').length - 1;
    const big = await timeCohort(cli, larger);
    return [
      {
        what: 'CLI over Bulk Data NDJSON, 400 patients: time ÷ (read + JSON.parse of the same files)',
        figure: `${spread(small.ratios)}×`,
        resolveAt: '≤ 2×',
        detail:
          `CLI ${seconds(small.cliMs)} s (through the bin symlink, ${rows} CSV rows), read + parse ${seconds(small.floorMs)} s; ` +
          `1,600 patients: ${spread(big.ratios)}×, CLI ${seconds(big.cliMs)} s, read + parse ${seconds(big.floorMs)} s`,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await runAsScript(import.meta.url, benchCli);
