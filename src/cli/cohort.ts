/**
 * A Bulk Data folder assessed patient by patient in worker threads (piscina, one per core but one)
 * and in the main thread: the reader (ndjson-stream.ts) hands each patient's lines over as soon as
 * the patient is complete, and each patient's output is handed to the report (report-writer.ts) as
 * soon as it and every patient before it (in the reader's order) are done, through a bounded
 * reorder window (in-order.ts). Memory holds the patients in flight and the window's outputs,
 * whatever the size of the export; while the output is slow, the reading waits. The progress bar
 * moves from the first patient (patients/s, ETA). An export not written patient by patient is read
 * whole instead.
 */
import type { Piscina } from 'piscina';
import assessPatient, { BEGUN, THREW, type AssessResult, type AssessTask } from './assess-worker.js';
import { Outcome, ReadReport } from './cohort-report.js';
import {
  entriesNotRead,
  ndjsonFiles,
  orderProblem,
  patientsInAnyOrder,
  patientsInOrder,
  UnorderedExportError,
  type CohortItem,
} from './ndjson-stream.js';
import { heapMb, mainThreadMaxBytes } from './heap.js';
import { InOrder } from './in-order.js';
import { AHEAD_PER_WORKER } from './pool.js';
import { printable } from './printable.js';
import { noBar, progressBar, type Progress } from './progress.js';

export class UsageError extends Error {}

/** Lets the workers' answers in (message events wait for the event loop, which a busy reader may not reach). */
function answersIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What the cohort run needs of the worker pool (piscina): its threads, and a task run. */
export type Workers = Pick<Piscina, 'run' | 'threads'>;

/**
 * Patients the main thread may assess ahead of the workers' oldest answer, in the reorder window:
 * it assesses the first patients while the workers still load their modules (about 0.2 s), and its
 * outputs wait there for the workers' (a JSON output is some 16 kB: 32 of them, half a MB).
 */
const MAIN_THREAD_LEAD = 32;

/** Patients between being read and being written, at most: what the workers have ahead, and the main thread's lead. */
export function reorderWindow(workers: Workers | undefined): number {
  return (workers?.threads.length ?? 0) * AHEAD_PER_WORKER + MAIN_THREAD_LEAD;
}

/**
 * Deaths of the workers a patient waited in, before beginning it, that it is sent again after: only
 * deaths no patient was failed for count (one pinned on the patient a worker was assessing removes
 * that patient for good, so the sending again ends), and after this many the patient is failed.
 */
const MAX_UNEXPLAINED_DEATHS = 3;

/** The failed result of a patient whose worker died (`state`: whether it had begun it). */
function workerDied(task: AssessTask, error: unknown, state: number): AssessResult {
  const { code, message } = error as NodeJS.ErrnoException;
  const mb = heapMb();
  const why =
    state !== BEGUN
      ? `the worker threads it was sent to stopped ${MAX_UNEXPLAINED_DEATHS} times before beginning it (last: ${message})`
      : code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? `the worker assessing this patient ran out of memory (this patient's lines, parsed, need more than a thread's ${mb} MB heap)`
        : `the worker assessing this patient stopped (${message})`;
  return { patientId: task.patientId, error: `${why}; not assessed`, leftOut: 0, misplaced: 0 };
}

/** Where the outputs go, in the reader's order (report-writer.ts). */
export interface OutputSink {
  /** Takes one patient's output; resolves once the output has taken it (waits while it is slow). */
  add(text: string): Promise<void>;
  /** Whether what was written can be taken back ({@link restart}): a file can, standard output cannot. */
  readonly restartable: boolean;
  /** Drops what was written, for a run read again from the start. */
  restart(): void;
  readonly written: number;
}

/**
 * One pass over the patients of a reader: each goes to the workers, or to the main thread whenever
 * the workers have enough ahead (reading costs the main thread little, and a worker in its place
 * costs a thread start, a module load and a JIT warm-up of its own: measured on 2 cores, 10% less
 * CPU in all, 10% sooner done than with a worker per core). The main thread also assesses the first
 * patients while the workers are still loading. Every patient takes a place in the reorder window
 * before it is assessed, and leaves it once its output is written (or its failure said).
 */
class CohortPass {
  readonly outcome = new Outcome();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly order: InOrder<AssessResult>;
  private shared: string[] = [];
  private progress: Progress;
  private readonly mainThreadMax = mainThreadMaxBytes();
  /** Worker deaths pinned on the patient being assessed (each such patient failed). */
  private blamed = 0;

  constructor(
    private readonly workers: Workers | undefined,
    private readonly base: CohortOptions,
    private readonly err: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly sink: OutputSink,
    private readonly report: ReadReport,
  ) {
    this.order = new InOrder(reorderWindow(workers), (result) => this.handOn(result));
    this.progress = noBar(err);
  }

  async add(item: CohortItem): Promise<void> {
    if ('shared' in item) {
      this.shared = this.report.sharedLines(item.shared);
      this.progress = progressBar(this.err, item.total);
      return;
    }
    const index = await this.order.slot(); // waits while the output is slow
    if ('refused' in item) {
      this.order.settle(index, { patientId: item.patientId, error: item.refused, leftOut: 0, misplaced: 0 });
      return;
    }
    const task: AssessTask = { ...this.base, patientId: item.patientId, ndjson: item.ndjson, shared: this.shared };
    const ahead = this.inFlight.size >= (this.workers?.threads.length ?? 0) * AHEAD_PER_WORKER;
    if (this.workers && (!ahead || task.ndjson.byteLength > this.mainThreadMax)) this.send(index, task);
    else {
      this.order.settle(index, assessPatient(task));
      await answersIn();
    }
  }

  /** Resolves once every patient's output is written; rejects with the first failure. */
  async finish(): Promise<void> {
    await this.landed();
    await this.order.drained();
  }

  /** Also after an error: no task of this pass may finish, nor its output be written, into the next one (reading whole). */
  async close(): Promise<void> {
    const stopping = this.order.stop();
    await this.landed();
    await stopping;
    this.progress.stop();
  }

  /** Resolves once no task is with the workers (a task sent again is in flight anew). */
  private async landed(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /**
   * Sends a patient to the workers. Should the worker die (out of memory, say: piscina then fails
   * all its tasks and starts another), the patient it was assessing is failed, and those still
   * waiting in its queue (or whose answer the death lost) are sent again: a death pinned on the
   * patient being assessed does not count against them, others do, up to {@link MAX_UNEXPLAINED_DEATHS}.
   */
  private send(index: number, task: AssessTask, unexplained = 0): void {
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const blamedAtSend = this.blamed;
    const run = this.workers?.run({ ...task, progress }) as Promise<AssessResult>;
    const done = run.then(
      (result) => this.order.settle(index, result),
      async (error: unknown) => {
        const state = Atomics.load(progress, 0);
        // It threw (as it would have in the main thread): a fault of the program, which ends the run.
        if (state === THREW) return this.order.fail(error);
        if (state === BEGUN) {
          this.blamed++;
          return this.order.settle(index, workerDied(task, error, state));
        }
        // The tasks of one death are failed together: let the one it was assessing be blamed first.
        await answersIn();
        const deaths = this.blamed > blamedAtSend ? unexplained : unexplained + 1;
        if (deaths >= MAX_UNEXPLAINED_DEATHS) this.order.settle(index, workerDied(task, error, state));
        else this.send(index, task, deaths);
      },
    );
    this.inFlight.add(done);
    void done.then(() => this.inFlight.delete(done));
  }

  private async handOn(result: AssessResult): Promise<void> {
    this.outcome.add(result);
    this.progress.tick();
    if ('output' in result) await this.sink.add(result.output);
    else this.progress.note(`patient ${printable(result.patientId)}: ${printable(result.error)}\n`);
  }
}

/**
 * Assesses every patient of `source` (a reader of ndjson-stream.ts) with `workers` and this thread,
 * handing each output to `sink` in the reader's order; what the results add up to.
 */
export async function assessPatients(
  source: AsyncIterable<CohortItem>,
  workers: Workers | undefined,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  sink: OutputSink,
  report = new ReadReport(),
): Promise<Outcome> {
  const pass = new CohortPass(workers, base, err, sink, report);
  try {
    for await (const item of source) await pass.add(item);
    await pass.finish();
  } finally {
    await pass.close();
  }
  return pass.outcome;
}

/** What the worker needs besides the patient: the assessment date and the options of the command line. */
export type CohortOptions = Omit<AssessTask, 'patientId' | 'ndjson' | 'shared'>;

/**
 * Assesses every patient of a Bulk Data folder with `workers` and this thread (the caller owns the
 * pool), handing each output to `sink` in the order of Patient.ndjson (ndjson-stream.ts); how many
 * patients failed (each said on stderr as its turn comes). An export not in that order is read
 * whole: found while reading, the outputs so far are dropped (a file's partial copy); for a sink
 * that cannot take them back (standard output), the order is checked before anything is written.
 */
export async function assessFolder(
  folder: string,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  workers: Workers | undefined,
  sink: OutputSink,
): Promise<{ failed: number }> {
  for (const { name, why } of entriesNotRead(folder)) err.write(`${printable(name)} not read: ${why}\n`);
  if (ndjsonFiles(folder).length === 0) throw new UsageError(`${printable(folder)} holds no .ndjson files`);
  let problem = sink.restartable ? undefined : await orderProblem(folder);
  let report = new ReadReport();
  let outcome: Outcome | undefined;
  if (problem === undefined)
    try {
      outcome = await assessPatients(patientsInOrder(folder, report.options), workers, base, err, sink, report);
    } catch (error) {
      if (!(error instanceof UnorderedExportError)) throw error;
      // Checked before, and found out of order now: the files changed while read.
      if (!sink.restartable) throw new UsageError(`${printable(folder)} changed while read: ${error.message}`);
      problem = error.message;
      sink.restart();
    }
  if (!outcome) {
    err.write(`the export is not written patient by patient (${problem}); reading it whole\n`);
    report = new ReadReport();
    outcome = await assessPatients(patientsInAnyOrder(folder, report.options), workers, base, err, sink, report);
  }
  report.write(err);
  outcome.write(err);
  return { failed: outcome.failed };
}
