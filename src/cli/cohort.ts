/**
 * A Bulk Data folder assessed patient by patient in worker threads (piscina, one per core): the
 * reader streams each patient's lines (ndjson-stream.ts) to the pool as soon as the patient is
 * complete, so memory holds the patients in flight, and the progress bar moves from the first
 * patient (patients/s, ETA). An export not written patient by patient is read whole instead.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { Piscina } from 'piscina';
import type { AssessmentIssue } from '../clinical/types.js';
import type { AssessResult, AssessTask } from './assess-worker.js';
import { AssessmentInputError } from '../clinical/assess.js';
import { lineOwner, ndjsonFiles, patientsInOrder, UnorderedExportError, type PatientLines } from './ndjson-stream.js';

export class UsageError extends Error {}

export function leftOutMessage(
  count: number,
  first: Pick<AssessmentIssue, 'resource' | 'message'> | undefined,
): string {
  return `${count} resource(s) left out: not the shape the engine reads (first: ${first?.resource ?? ''} ${first?.message ?? ''})\n`;
}

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

interface Progress {
  tick(): void;
  stop(): void;
}

function progressBar(err: NodeJS.WritableStream & { isTTY?: boolean }, total: number): Progress {
  if (!err.isTTY || total < 20) return { tick: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: 'assessing {bar} {value}/{total} patients | {rate} patients/s | ETA {eta_formatted}',
    stream: err,
    etaBuffer: 50,
  });
  const started = performance.now();
  let done = 0;
  bar.start(total, 0, { rate: '–' });
  return {
    tick: () => {
      done++;
      bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1) });
    },
    stop: () => bar.stop(),
  };
}

/** Every patient's lines from a folder read whole (any order; memory grows with the export). */
async function* patientsReadWhole(folder: string): AsyncGenerator<PatientLines | { shared: string[]; total: number }> {
  const groups = new Map<string, string[]>();
  const shared: string[] = [];
  for (const file of ndjsonFiles(folder)) {
    let n = 0;
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      n++;
      if (!line.trim()) continue;
      const owner = lineOwner(line);
      if (owner === null) throw new AssessmentInputError(`${basename(file)} line ${n} is not JSON`);
      if (owner === undefined) {
        if (/^\s*\{\s*"resourceType"\s*:\s*"Medication"/.test(line)) shared.push(line);
        continue;
      }
      const list = groups.get(owner);
      if (list) list.push(line);
      else groups.set(owner, [line]);
    }
  }
  yield { shared, total: groups.size };
  for (const [patientId, lines] of groups) yield { patientId, lines };
}

/** Runs every patient of `source` through the pool; outputs in patient id order. */
async function runPatients(
  source: AsyncGenerator<PatientLines | { shared: string[]; total: number }>,
  pool: Piscina,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
): Promise<AssessResult[]> {
  const results: AssessResult[] = [];
  const inFlight = new Set<Promise<void>>();
  let shared: string[] = [];
  let progress: Progress | undefined;
  try {
    for await (const item of source) {
      if ('shared' in item) {
        shared = item.shared;
        progress = progressBar(err, item.total);
        continue;
      }
      // Bounded memory: a few patients per thread wait in the queue, no more.
      if (inFlight.size >= pool.threads.length * 4) await Promise.race(inFlight);
      const task: AssessTask = { ...base, patientId: item.patientId, lines: item.lines, shared };
      const done = (pool.run(task) as Promise<AssessResult>).then((result) => {
        results.push(result);
        progress?.tick();
        inFlight.delete(done);
      });
      inFlight.add(done);
    }
    await Promise.all(inFlight);
  } finally {
    progress?.stop();
  }
  return results.sort((a, b) => a.patientId.localeCompare(b.patientId));
}

/** What the worker needs besides the patient: the assessment date and the options of the command line. */
export type CohortOptions = Omit<AssessTask, 'patientId' | 'lines' | 'shared'>;

/** Assesses every patient of a Bulk Data folder; the outputs (CSV rows or JSON texts) in patient id order. */
export async function assessFolder(
  folder: string,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
): Promise<{ outputs: string[]; failed: number }> {
  if (ndjsonFiles(folder).length === 0) throw new UsageError(`${folder} holds no .ndjson files`);
  const threads = Math.max(1, availableParallelism());
  const pool = new Piscina({ filename: workerFile(), minThreads: threads, maxThreads: threads });
  let results: AssessResult[];
  try {
    try {
      results = await runPatients(patientsInOrder(folder), pool, base, err);
    } catch (error) {
      if (!(error instanceof UnorderedExportError)) throw error;
      err.write(`the export is not written patient by patient (${error.message}); reading it whole\n`);
      results = await runPatients(patientsReadWhole(folder), pool, base, err);
    }
  } finally {
    await pool.destroy();
  }
  return summarise(results, err);
}

function summarise(results: AssessResult[], err: NodeJS.WritableStream): { outputs: string[]; failed: number } {
  const outputs: string[] = [];
  let failed = 0;
  let leftOut = 0;
  let misplaced = 0;
  let first: string | undefined;
  for (const r of results) {
    leftOut += r.leftOut;
    misplaced += r.misplaced;
    if ('output' in r) {
      outputs.push(r.output);
      first ??= r.firstLeftOut;
    } else {
      failed++;
      err.write(`patient ${r.patientId}: ${r.error}\n`);
    }
  }
  if (leftOut > 0) err.write(leftOutMessage(leftOut, { resource: first ?? '', message: '' }));
  if (misplaced > 0) err.write(`${misplaced} resource(s) left out: their patient reference could not be read\n`);
  return { outputs, failed };
}
