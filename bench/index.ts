/**
 * `npm run bench`: every figure of issue 13 against its floor measured in the same run, as one
 * table (median and, in brackets, the spread of the repetitions; REPS=3 by default). Benchmarks,
 * not tests: nothing here runs in `npm test`. Each script also runs alone (npx tsx bench/<name>.ts).
 */
import { benchCli } from './cli.js';
import { benchEngine } from './engine.js';
import { benchNoPrefetch } from './no-prefetch.js';
import { benchOrderSignCost } from './order-sign-cost.js';
import { benchPatientView } from './patient-view.js';
import { benchStartup } from './startup.js';
import { loadAverage, printRows, type Row } from './lib/stats.js';

const before = await loadAverage();
const rows: Row[] = [];
for (const [name, run] of [
  ['patient-view', benchPatientView],
  ['engine', async () => Promise.resolve(benchEngine())],
  ['no-prefetch', benchNoPrefetch],
  ['startup', benchStartup],
  ['cli', benchCli],
  ['order-sign cost', benchOrderSignCost],
] as const) {
  process.stderr.write(`bench: ${name}…\n`);
  try {
    rows.push(...(await run()));
  } catch (error) {
    rows.push({ what: name, figure: 'failed', resolveAt: '', detail: (error as Error).message.slice(0, 200) });
  }
}
console.log(`\nMachine: ${before} before, ${await loadAverage()} after.\n`);
console.log('| What | Measured: median (spread) | Resolve at | Detail |');
console.log('|---|---|---|---|');
printRows(rows);
process.exit(0);
