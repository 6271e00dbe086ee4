/**
 * `npm run bench`: every figure of issue 13 against its floor measured in the same run, as one
 * table (median and, in brackets, the spread of the repetitions; REPS=3 by default). Benchmarks,
 * not tests: nothing here runs in `npm test`. Each script runs in a process of its own, one after
 * another, exactly as it runs alone (`npx tsx bench/<name>.ts`; the engine's with --expose-gc):
 * what one benchmark leaves in its process's heap (request bodies of up to 13 MB, a
 * 50,000-Observation patient) must not slow the next one's garbage collection.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAverage } from './lib/stats.js';

const SCRIPTS = ['patient-view', 'engine', 'no-prefetch', 'startup', 'cli', 'order-sign-cost'];
/** Node flags a script needs: the engine moves its inputs out of the young generation (bench/engine.ts). */
const NODE_FLAGS: Record<string, string[]> = { engine: ['--expose-gc'] };

/** Runs bench/<name>.ts in its own node process; returns the table rows it printed. */
function runAlone(name: string): Promise<string[]> {
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(NODE_FLAGS[name] ?? []), '--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => {
      const rows = out.split('\n').filter((line) => line.startsWith('| '));
      const why = err.trim().split('\n').slice(-3).join(' ').slice(0, 200).replaceAll('|', '/');
      resolve(code === 0 && rows.length > 0 ? rows : [`| ${name} | failed (exit ${code}) | | ${why} |`]);
    });
  });
}

const before = await loadAverage();
const rows: string[] = [];
for (const name of SCRIPTS) {
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await runAlone(name)));
}
console.log(`\nMachine: ${before} before, ${await loadAverage()} after.\n`);
console.log('| What | Measured: median (spread) | Resolve at | Detail |');
console.log('|---|---|---|---|');
for (const row of rows) console.log(row);
