/**
 * The CLI over a FHIR Bulk Data export of 400 synthetic patients (about 114,000 Observations): the
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

export async function benchCli(): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'cart-cli-'));
  try {
    const cohort = join(work, 'cohort');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/generate-cohort.ts',
        '--n',
        '400',
        '--seed',
        '2002',
        '--today',
        '2026-11-22',
        '--out',
        cohort,
      ],
      { cwd: ROOT, stdio: 'ignore' },
    );
    // What npm makes of the `bin` entry: a symlink in node_modules/.bin.
    const bin = join(work, 'node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(compiled(), 'dist/src/cli/assess.js'), join(bin, 'cart-hematotox'));
    const cli = (): number => {
      const started = performance.now();
      const run = spawnSync(
        process.execPath,
        [
          join(bin, 'cart-hematotox'),
          'assess',
          cohort,
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
      if (run.status !== 0 || !run.stderr.includes('assessed 400 patient(s)'))
        throw new Error(`CLI failed (${run.status}): ${run.stderr}`);
      return ms;
    };
    cli(); // warm the file cache
    await readAndParse(cohort);
    const ratios: number[] = [];
    const cliMs: number[] = [];
    const floorMs: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const c = cli();
      const f = await readAndParse(cohort);
      cliMs.push(c);
      floorMs.push(f);
      ratios.push(c / f);
    }
    const rows = readFileSync(join(work, 'out.csv'), 'utf8').trim().split('\n').length - 1;
    return [
      {
        what: 'CLI over Bulk Data NDJSON, 400 patients: time ÷ (read + JSON.parse of the same files)',
        figure: `${spread(ratios)}×`,
        resolveAt: '≤ 2×',
        detail: `CLI ${spread(cliMs.map((ms) => ms / 1000))} s (through the bin symlink, ${rows} CSV rows), read + parse ${spread(floorMs.map((ms) => ms / 1000))} s`,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await runAsScript(import.meta.url, benchCli);
