/**
 * A Bulk Data folder assessed patient by patient in worker threads (piscina, one per core but one)
 * and in the main thread: the reader (ndjson-stream.ts) hands each patient's lines over as soon as
 * the patient is complete, so memory holds the patients in flight, and the progress bar moves from
 * the first patient (patients/s, ETA). An export not written patient by patient is read whole instead.
 */
import { SingleBar } from 'cli-progress';
import type { Piscina } from 'piscina';
import type { AssessmentIssue } from '../clinical/types.js';
import { screenResources } from '../fhir/resource-schemas.js';
import assessPatient, { type AssessResult, type AssessTask } from './assess-worker.js';
import {
  entriesNotRead,
  ndjsonFiles,
  patientsInAnyOrder,
  patientsInOrder,
  UnorderedExportError,
  type CohortItem,
  type ReadOptions,
} from './ndjson-stream.js';
import { AHEAD_PER_WORKER } from './pool.js';
import { printable } from './printable.js';

export class UsageError extends Error {}

export function leftOutMessage(
  count: number,
  first: Pick<AssessmentIssue, 'resource' | 'message'> | undefined,
): string {
  const what = printable(`${first?.resource ?? ''} ${first?.message ?? ''}`);
  return `${count} resource(s) left out: not the shape the engine reads (first: ${what})\n`;
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

/** Lines left out for one reason: how many, and where the first was. */
class Tally {
  count = 0;
  first: string | undefined;

  constructor(private readonly message: (count: number, first: string) => string) {}

  readonly add = (where: string): void => {
    this.count++;
    this.first ??= where;
  };

  write(err: NodeJS.WritableStream): void {
    if (this.count > 0) err.write(`${this.message(this.count, printable(this.first ?? ''))}\n`);
  }
}

/** Lines the reader left out, said once at the end of the run. */
class ReadReport {
  private readonly unassigned = new Tally(
    (n, first) => `${n} line(s) left out: no patient reference could be read, or not a resource (first: ${first})`,
  );
  private readonly unparsed = new Tally(
    (n, first) =>
      `${n} line(s) left out: not JSON, and no patient reference could be found in them (first: ${first}); an export cut short ends with such a line`,
  );
  private readonly orphans = new Tally(
    (n, first) => `${n} line(s) left out: the patient they name is not in Patient.ndjson (first: ${first})`,
  );
  private readonly invalidUtf8 = new Tally((n, first) => `${n} line(s) left out: not valid UTF-8 (first: ${first})`);
  private readonly medications = new Tally(
    (n, first) => `${n} resource(s) left out: not the shape the engine reads (first: ${first})`,
  );

  /** The reader's callbacks, each counting into its tally. */
  readonly options: ReadOptions = {
    onUnassigned: this.unassigned.add,
    onOrphan: this.orphans.add,
    onUnparsed: this.unparsed.add,
    onInvalidUtf8: this.invalidUtf8.add,
  };

  /** The Medication lines every patient gets: screened here, once, like any resource; the others left out. */
  sharedLines(lines: string[]): string[] {
    const kept: string[] = [];
    for (const line of lines) {
      let issue: Pick<AssessmentIssue, 'resource' | 'message'> | undefined;
      try {
        issue = screenResources([JSON.parse(line) as unknown]).issues[0];
      } catch {
        issue = { resource: 'Medication', message: 'a line is not JSON' };
      }
      if (!issue) kept.push(line);
      else this.medications.add([issue.resource, issue.message].filter(Boolean).join(' '));
    }
    return kept;
  }

  write(err: NodeJS.WritableStream): void {
    for (const tally of [this.invalidUtf8, this.unassigned, this.unparsed, this.orphans, this.medications])
      tally.write(err);
  }
}

/** Lets the workers' answers in (message events wait for the event loop, which a busy reader may not reach). */
function answersIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs every patient of `source` through the workers, and through the main thread whenever the
 * workers have enough ahead: reading costs the main thread little, and a worker in its place costs
 * a thread start, a module load and a JIT warm-up of its own (measured on 2 cores: 10% less CPU
 * in all, 10% sooner done than with a worker per core). The main thread also assesses the first
 * patients while the workers are still loading. Outputs in patient id order.
 */
async function runPatients(
  source: AsyncGenerator<CohortItem>,
  pool: Piscina | undefined,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  report: ReadReport,
): Promise<AssessResult[]> {
  const results: AssessResult[] = [];
  const inFlight = new Set<Promise<void>>();
  let crashed: { error: unknown } | undefined;
  let shared: string[] = [];
  let progress: Progress | undefined;
  const finish = (result: AssessResult): void => {
    results.push(result);
    progress?.tick();
  };
  try {
    for await (const item of source) {
      if (crashed) throw crashed.error;
      if ('shared' in item) {
        shared = report.sharedLines(item.shared);
        progress = progressBar(err, item.total);
        continue;
      }
      if ('refused' in item) {
        finish({ patientId: item.patientId, error: item.refused, leftOut: 0, misplaced: 0 });
        continue;
      }
      const task: AssessTask = { ...base, patientId: item.patientId, ndjson: item.ndjson, shared };
      if (pool && inFlight.size < pool.threads.length * AHEAD_PER_WORKER) {
        // Moved, not copied: the reader made the buffer for this task alone.
        const run = pool.run(task, { transferList: [item.ndjson.buffer] }) as Promise<AssessResult>;
        const done = run.then(
          (result) => {
            finish(result);
            inFlight.delete(done);
          },
          (error: unknown) => {
            crashed ??= { error };
          },
        );
        inFlight.add(done);
      } else {
        finish(assessPatient(task));
        await answersIn();
      }
    }
  } finally {
    // Also after an error: no task of this run may finish into the next one (reading whole).
    await Promise.all(inFlight);
    progress?.stop();
  }
  if (crashed) throw crashed.error;
  return results.sort((a, b) => a.patientId.localeCompare(b.patientId));
}

/** What the worker needs besides the patient: the assessment date and the options of the command line. */
export type CohortOptions = Omit<AssessTask, 'patientId' | 'ndjson' | 'shared'>;

/**
 * Assesses every patient of a Bulk Data folder with `pool`'s workers and this thread (the caller
 * owns the pool); the outputs (CSV rows or JSON texts) in patient id order.
 */
export async function assessFolder(
  folder: string,
  base: CohortOptions,
  err: NodeJS.WritableStream & { isTTY?: boolean },
  pool: Piscina | undefined,
): Promise<{ outputs: string[]; failed: number }> {
  for (const { name, why } of entriesNotRead(folder)) err.write(`${printable(name)} not read: ${why}\n`);
  if (ndjsonFiles(folder).length === 0) throw new UsageError(`${printable(folder)} holds no .ndjson files`);
  let results: AssessResult[];
  let report = new ReadReport();
  try {
    results = await runPatients(patientsInOrder(folder, report.options), pool, base, err, report);
  } catch (error) {
    if (!(error instanceof UnorderedExportError)) throw error;
    err.write(`the export is not written patient by patient (${error.message}); reading it whole\n`);
    report = new ReadReport();
    results = await runPatients(patientsInAnyOrder(folder, report.options), pool, base, err, report);
  }
  report.write(err);
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
      err.write(`patient ${printable(r.patientId)}: ${printable(r.error)}\n`);
    }
  }
  if (leftOut > 0) err.write(leftOutMessage(leftOut, { resource: first ?? '', message: '' }));
  if (misplaced > 0)
    err.write(
      `${misplaced} resource(s) left out: the patient their reference names is not the one their line was read for\n`,
    );
  return { outputs, failed };
}
