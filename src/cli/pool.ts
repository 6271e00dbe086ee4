/**
 * The CLI's worker threads (piscina, one per core but one: the main thread reads, and assesses
 * too). The entry (assess.ts) starts them before it loads the engine, so that they load theirs on
 * the other core meanwhile: 0.15 s less for a small folder, about 0.1 s for 400 patients.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/**
 * Tasks handed to each worker ahead of time: they wait in the worker's own port, so the worker goes
 * on while the main thread is busy assessing a patient of its own and cannot answer it.
 */
export const AHEAD_PER_WORKER = 4;

/**
 * The worker script. Compiled: assess-worker.js. From source (tsx: tests, development): a small
 * CommonJS bootstrap in the temporary folder that registers tsx's ESM loader in the worker and
 * imports the .ts source as ES module (piscina would otherwise load it through tsx's CommonJS hook,
 * under which default imports of CommonJS packages such as ucum-lhc come out undefined).
 */
function workerFile(): string {
  const own = new URL(import.meta.url);
  if (!own.pathname.endsWith('.ts')) return fileURLToPath(new URL('./assess-worker.js', own));
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = new URL('./assess-worker.ts', own).href;
  const boot = join(mkdtempSync(join(tmpdir(), 'cart-hematotox-')), 'assess-worker.cjs');
  writeFileSync(
    boot,
    `const loaded = import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });
module.exports = async (task) => (await loaded).default(task);
`,
  );
  process.once('exit', () => rmSync(dirname(boot), { recursive: true, force: true }));
  return boot;
}

/** The worker pool, its threads starting now; undefined on one core (the main thread does it all). */
export function startPool(): Piscina | undefined {
  const threads = availableParallelism() - 1;
  return threads > 0
    ? new Piscina({
        filename: workerFile(),
        minThreads: threads,
        maxThreads: threads,
        concurrentTasksPerWorker: AHEAD_PER_WORKER,
      })
    : undefined;
}
