/**
 * The CLI's cohort run (src/cli/cohort.ts) writes each patient's output as soon as it and every
 * patient before it are done, through a bounded reorder window: while the output is blocked the
 * reader is not asked for more than the window holds (so memory does not grow with the export), and
 * outputs come in the reader's order whatever order the workers answer in.
 *
 * The reader is a generator that counts what it is asked for; the worker pool is one that answers
 * in an order the test chooses (a real pool's order depends on timing), or fails tasks as piscina
 * does when a worker dies (a real death: test/integration/cli-worker-crash.test.ts). The patients
 * are assessed for real (assess-worker.ts).
 */
import { describe, expect, test } from '@jest/globals';
import assessPatient, {
  ANSWERED,
  BEGUN,
  THREW,
  type AssessResult,
  type AssessTask,
} from '../../src/cli/assess-worker.js';
import {
  assessPatients,
  reorderWindow,
  type CohortOptions,
  type OutputSink,
  type Workers,
} from '../../src/cli/cohort.js';
import type { CohortItem } from '../../src/cli/ndjson-stream.js';

const OPTIONS: CohortOptions = {
  asOf: '2026-11-22',
  infusionDate: undefined,
  format: 'csv',
  clinical: { thresholdsFile: undefined, localCodesFile: undefined, timeZone: 'UTC' },
};

const idOf = (i: number): string => `p${String(i).padStart(4, '0')}`;

/** A reader of `n` patients (a Patient line each) that counts how many it was asked for. */
function reader(n: number): { items: AsyncGenerator<CohortItem>; pulled: () => number } {
  let pulled = 0;
  async function* items(): AsyncGenerator<CohortItem> {
    yield { shared: [], total: n };
    for (let i = 0; i < n; i++) {
      pulled++;
      const line = Buffer.from(`{"resourceType":"Patient","id":"${idOf(i)}"}\n`);
      const ndjson = Buffer.from(new SharedArrayBuffer(line.length)); // as the reader makes them
      line.copy(ndjson);
      yield { patientId: idOf(i), ndjson };
    }
  }
  return { items: items(), pulled: () => pulled };
}

/** An output that takes nothing until `open()`: what it was given, and when. */
function gatedSink(): OutputSink & { texts: string[]; written: number; open(): void } {
  let opened: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (opened = resolve));
  return {
    texts: [],
    written: 0,
    add(text) {
      this.texts.push(text);
      this.written++;
      return gate;
    },
    restartable: false,
    restart: () => undefined,
    open: () => opened(),
  };
}

/** Resolves once `count()` has not changed for `quietMs` (or has reached `limit`); its value then. */
async function settled(count: () => number, limit: number, quietMs = 300): Promise<number> {
  let last = -1;
  let since = Date.now();
  while (count() < limit && Date.now() - since < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (count() !== last) [last, since] = [count(), Date.now()];
  }
  return count();
}

const err = { write: () => true } as unknown as NodeJS.WritableStream;
const rowIds = (texts: string[]): string[] => texts.map((row) => row.split(',')[0] ?? '');

describe('the cohort run streams its outputs through a bounded window', () => {
  test('while the output is blocked, the reader is asked for no more than the window holds; then every output is written, in order', async () => {
    const window = reorderWindow(undefined);
    const n = 150;
    expect(window + 1).toBeLessThan(n / 2);
    const { items, pulled } = reader(n);
    const sink = gatedSink();
    const run = assessPatients(items, undefined, OPTIONS, err, sink);
    // Read all at once, the reader would be asked for all n patients.
    expect(await settled(pulled, n)).toBeLessThanOrEqual(window + 1);
    expect(sink.texts).toHaveLength(1); // the first output, waiting for the output to take it
    sink.open();
    expect((await run).failed).toBe(0);
    expect(rowIds(sink.texts)).toEqual(Array.from({ length: n }, (_, i) => idOf(i)));
  }, 30_000);

  test('workers answering out of order: outputs in the reader order, never more than the window pending', async () => {
    const held: { task: AssessTask; answer: (r: AssessResult) => void }[] = [];
    // Two "threads" whose answers the test releases newest first.
    const workers = {
      threads: [{}, {}],
      run: (task: AssessTask) => new Promise<AssessResult>((answer) => held.push({ task, answer })),
    } as unknown as Workers;
    const window = reorderWindow(workers);
    const n = 200;
    expect(window + 1).toBeLessThan(n / 2);
    const { items, pulled } = reader(n);
    const pending: number[] = [];
    const sink: OutputSink & { texts: string[]; written: number } = {
      texts: [],
      written: 0,
      add(text) {
        this.texts.push(text);
        this.written++;
        pending.push(pulled() - this.written);
        return Promise.resolve();
      },
      restartable: false,
      restart: () => undefined,
    };
    const releasing = setInterval(() => {
      for (const { task, answer } of held.splice(0).reverse()) answer(assessPatient(task));
    }, 5);
    try {
      expect((await assessPatients(items, workers, OPTIONS, err, sink)).failed).toBe(0);
    } finally {
      clearInterval(releasing);
    }
    expect(rowIds(sink.texts)).toEqual(Array.from({ length: n }, (_, i) => idOf(i)));
    expect(Math.max(...pending)).toBeLessThanOrEqual(window + 1);
  }, 30_000);
});

/** A sink that takes everything at once. */
function openSink(): OutputSink & { texts: string[]; written: number } {
  const sink = gatedSink();
  sink.open();
  return sink;
}

/** A stderr that keeps what is said to it. */
function capturedStderr(): { said: string[]; stderr: NodeJS.WritableStream } {
  const said: string[] = [];
  return { said, stderr: { write: (line: string) => said.push(line) } as unknown as NodeJS.WritableStream };
}

/** As piscina fails every task of a worker that died: the same error for each. */
const outOfMemory = Object.assign(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'), {
  code: 'ERR_WORKER_OUT_OF_MEMORY',
});

describe('a worker that dies costs the patient it was assessing, not the run', () => {
  test('the patient it had begun fails with the reason; one waiting in its queue is sent again and assessed', async () => {
    const sent: string[] = [];
    const workers = {
      threads: [{}],
      run: (task: AssessTask) => {
        sent.push(task.patientId);
        if (task.patientId === idOf(1)) {
          if (task.progress) Atomics.store(task.progress, 0, BEGUN); // it began, and the worker died in it
          return Promise.reject(outOfMemory);
        }
        // Waiting behind it in the dead worker's queue, never begun: failed alike, the first time.
        if (task.patientId === idOf(2) && sent.filter((id) => id === idOf(2)).length === 1)
          return Promise.reject(outOfMemory);
        return Promise.resolve(assessPatient(task));
      },
    } as unknown as Workers;
    const { said, stderr } = capturedStderr();
    const sink = openSink();
    expect((await assessPatients(reader(5).items, workers, OPTIONS, stderr, sink)).failed).toBe(1);
    expect(said).toEqual([
      expect.stringMatching(
        /^patient p0001: the worker assessing this patient ran out of memory \(this patient's lines, parsed, need more than a thread's \d+ MB heap\); not assessed\n$/,
      ),
    ]);
    expect(rowIds(sink.texts)).toEqual([idOf(0), idOf(2), idOf(3), idOf(4)]);
    expect(sent.filter((id) => id === idOf(2))).toHaveLength(2);
  });

  test('a patient whose workers die each time before they begin it is failed after 3 sendings, not sent forever', async () => {
    const sent: string[] = [];
    const workers = {
      threads: [{}],
      run: (task: AssessTask) => {
        sent.push(task.patientId);
        return task.patientId === idOf(0)
          ? Promise.reject(new Error('worker exited with code: 1'))
          : Promise.resolve(assessPatient(task));
      },
    } as unknown as Workers;
    const { said, stderr } = capturedStderr();
    const sink = openSink();
    expect((await assessPatients(reader(2).items, workers, OPTIONS, stderr, sink)).failed).toBe(1);
    expect(said).toEqual([
      'patient p0000: the worker threads it was sent to stopped 3 times before beginning it (last: worker exited with code: 1); not assessed\n',
    ]);
    expect([idOf(0), idOf(1)].map((id) => sent.filter((s) => s === id).length)).toEqual([3, 1]);
    expect(rowIds(sink.texts)).toEqual([idOf(1)]);
  });

  test('a task that threw in the worker (a fault of the program, not a death) ends the run with its error, as in the main thread', async () => {
    const fault = new TypeError('x is undefined');
    const workers = {
      threads: [{}],
      run: (task: AssessTask) => {
        if (task.patientId !== idOf(1)) return Promise.resolve(assessPatient(task));
        if (task.progress) Atomics.store(task.progress, 0, THREW); // as assessPatient leaves a task that threw
        return Promise.reject(fault);
      },
    } as unknown as Workers;
    await expect(assessPatients(reader(3).items, workers, OPTIONS, err, openSink())).rejects.toBe(fault);
  });

  /**
   * One worker as piscina runs it: tasks queue in it; a patient in `heavy` kills it (that task begun),
   * and every task in its queue is failed with the same error; the next task starts a new worker.
   * `lost`: a patient whose answer the death of the worker loses (answered, not yet handed over).
   */
  function dyingWorker(heavy: ReadonlySet<string>, lost?: string): { sent: string[]; workers: Workers } {
    const sent: string[] = [];
    let queue: { task: AssessTask; resolve: (r: AssessResult) => void; reject: (e: unknown) => void }[] = [];
    let busy = false;
    const pump = (): void => {
      const next = busy ? undefined : queue.shift();
      if (!next) return;
      busy = true;
      setImmediate(() => {
        busy = false;
        const { task } = next;
        if (heavy.has(task.patientId) || task.patientId === lost) {
          const progress = task.progress as Int32Array<SharedArrayBuffer>;
          Atomics.store(progress, 0, heavy.has(task.patientId) ? BEGUN : ANSWERED);
          const dead = [next, ...queue];
          queue = [];
          for (const t of dead) t.reject(outOfMemory);
          if (task.patientId === lost) lost = undefined; // dies once
        } else next.resolve(assessPatient(task));
        pump();
      });
    };
    const run = (task: AssessTask): Promise<AssessResult> =>
      new Promise((resolve, reject) => {
        sent.push(task.patientId);
        queue.push({ task, resolve, reject });
        pump();
      });
    return { sent, workers: { threads: [{}], run } as unknown as Workers };
  }

  test('three patients in a row that kill their worker: those three fail, the one queued behind them is assessed', async () => {
    const { sent, workers } = dyingWorker(new Set([idOf(0), idOf(1), idOf(2)]));
    const { said, stderr } = capturedStderr();
    const sink = openSink();
    expect((await assessPatients(reader(8).items, workers, OPTIONS, stderr, sink)).failed).toBe(3);
    expect(said.map((line) => line.split(':')[0])).toEqual(['patient p0000', 'patient p0001', 'patient p0002']);
    expect(said.every((line) => line.includes('ran out of memory'))).toBe(true);
    expect(rowIds(sink.texts)).toEqual([3, 4, 5, 6, 7].map(idOf));
    expect(sent.filter((id) => id === idOf(3))).toHaveLength(4); // queued behind each of the three deaths
  });

  test('an answer a dying worker lost is asked for again, not taken for a fault of the program', async () => {
    const { workers } = dyingWorker(new Set([idOf(2)]), idOf(1));
    const sink = openSink();
    const { stderr } = capturedStderr();
    expect((await assessPatients(reader(5).items, workers, OPTIONS, stderr, sink)).failed).toBe(1);
    expect(rowIds(sink.texts)).toEqual([0, 1, 3, 4].map(idOf));
  });
});
