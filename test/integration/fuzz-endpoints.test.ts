/**
 * Structure-aware fuzzing of every POST endpoint over the real express app (no fhirServer: the
 * full prefetch is sent, so every call reaches the engine). Requests are built from realistic
 * synthetic patients and draft orders, then mutated (test/helpers/fuzz-arbitraries.ts).
 *
 * Properties: no endpoint ever answers 5xx, every answer is JSON, and a patient-view call where one
 * resource is malformed among good ones still answers 200 with the cards of the good data.
 *
 * FC_SEED=<n> replays a run; on failure fast-check prints the seed, the path and the shrunk case,
 * and the error message names the app's logged error (message and first frames in src/).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { cardKind } from '../../src/shared/card-kind.js';
import { cdsResponseSchema, type Card } from '../../src/cds-hooks/schemas.js';
import { testConfig } from '../../src/config.js';
import { createFeedbackStore, type FeedbackStore } from '../../src/storage/index.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import {
  buildRequest,
  buildSingleBad,
  caseArb,
  crashSite,
  ENDPOINTS,
  SERVICE_IDS,
  singleBadResourceArb,
  TEST_TODAY,
  type BaseSpec,
  type Endpoint,
} from '../helpers/fuzz-arbitraries.js';

const SEED = process.env['FC_SEED'] ? Number(process.env['FC_SEED']) : undefined;
/** Runs per property; the time limit keeps the file under a minute even while shrinking. */
const RUNS: Record<Endpoint | 'single-bad', number> = {
  'patient-view': 250,
  'order-sign': 200,
  'order-select': 200,
  feedback: 250,
  assessments: 200,
  'single-bad': 150,
};
const TIME_LIMIT_MS = 8_000;

function params(numRuns: number): fc.Parameters<unknown> {
  return {
    numRuns,
    interruptAfterTimeLimit: TIME_LIMIT_MS,
    markInterruptAsFailure: false,
    ...(SEED !== undefined ? { seed: SEED } : {}),
  };
}

let t: TestApp;
let feedback: FeedbackStore;

beforeAll(async () => {
  feedback = await createFeedbackStore(testConfig());
  t = buildTestApp({ overrides: { feedback } });
});
afterAll(async () => {
  await feedback.close();
  const histograms = [...statuses].map(
    ([label, h]) =>
      `${label}: ${[...h]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}`,
  );
  console.log(`statuses:\n${histograms.join('\n')}`);
  const seen = [...appErrorsSeen.entries()].sort((a, b) => b[1] - a[1]);
  if (seen.length > 0)
    console.log(
      `app errors seen while fuzzing (count, message @ first src frames):\n${seen.map(([m, n]) => `${String(n).padStart(6)}  ${m}`).join('\n')}`,
    );
  if (drift.size > 0)
    console.log(
      `patient-view with one malformed resource: cards neither those of the intact nor of the reduced record (not a failure):\n${[...drift].join('\n')}`,
    );
});

/** Distinct error-level log records of the app (unhandled errors, failed prefetch, dropped cards). */
const appErrorsSeen = new Map<string, number>();
const drift = new Set<string>();
/** Status histogram per endpoint, printed at the end: shows how far the mutated calls get. */
const statuses = new Map<string, Map<number, number>>();

function describeLog(line: string): string | undefined {
  let rec: {
    level?: string;
    msg?: string;
    err?: { type?: string; message?: string; stack?: string };
    issues?: string[];
  };
  try {
    rec = JSON.parse(line) as typeof rec;
  } catch {
    return undefined;
  }
  if (rec.level !== 'error' && rec.level !== 'fatal') return undefined;
  const frames = crashSite(rec.err?.stack);
  const what = rec.err
    ? `${rec.err.type ?? 'Error'}: ${(rec.err.message ?? '').slice(0, 160)}`
    : (rec.issues ?? []).join('; ').slice(0, 160);
  return `${rec.msg ?? ''}: ${what}${frames ? ` @ ${frames}` : ''}`;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  errors: string[];
}

async function post(path: string, contentType: string, body: string, label: string): Promise<Answer> {
  const before = t.logs.lines.length;
  const res = await request(t.app).post(path).set('content-type', contentType).send(body);
  const errors = t.logs.lines.slice(before).flatMap((l) => describeLog(l) ?? []);
  for (const e of errors) appErrorsSeen.set(e, (appErrorsSeen.get(e) ?? 0) + 1);
  const histogram = statuses.get(label) ?? new Map<number, number>();
  histogram.set(res.status, (histogram.get(res.status) ?? 0) + 1);
  statuses.set(label, histogram);
  return { status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.text, errors };
}

/** status < 500 and a JSON body; otherwise an error naming the mutations and what the app logged. */
function checkAnswer(a: Answer, changes: string[]): void {
  const what = `mutations: ${changes.join('; ') || '(none)'}`;
  if (a.status >= 500)
    throw new Error(`HTTP ${a.status}; ${what}; app log: ${a.errors.join(' | ') || '(nothing logged)'}`);
  if (!/json/.test(a.contentType))
    throw new Error(
      `HTTP ${a.status} with content-type "${a.contentType}", not JSON; ${what}; body: ${a.text.slice(0, 200)}`,
    );
  try {
    JSON.parse(a.text);
  } catch {
    throw new Error(`HTTP ${a.status}: the body is not JSON; ${what}; body: ${a.text.slice(0, 200)}`);
  }
}

describe.each(ENDPOINTS.map((e) => [e]))('%s under structure-aware mutation', (endpoint) => {
  test('never answers 5xx and always answers JSON', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb([endpoint]), async (c) => {
        const req = buildRequest(c, TEST_TODAY);
        checkAnswer(await post(req.path, req.contentType, req.body, endpoint), req.changes);
      }),
      params(RUNS[endpoint]),
    );
  }, 60_000);
});

describe('patient-view with one malformed resource among good ones', () => {
  const PATH = `/cds-services/${SERVICE_IDS['patient-view']}`;
  const intactKinds = new Map<string, string[]>();
  const kinds = (cards: Card[]): string[] => cards.map((c) => `${cardKind(c)}:${c.indicator}`).sort();

  async function cardsOf(body: string, what: string): Promise<Card[]> {
    const a = await post(PATH, 'application/json', body, 'patient-view, one bad resource');
    if (a.status !== 200)
      throw new Error(
        `${what}: HTTP ${a.status}; app log: ${a.errors.join(' | ') || '(nothing logged)'}; body: ${a.text.slice(0, 300)}`,
      );
    const parsed = cdsResponseSchema.safeParse(JSON.parse(a.text));
    if (!parsed.success)
      throw new Error(`${what}: not a valid CDS Hooks response: ${parsed.error.message.slice(0, 300)}`);
    return parsed.data.cards;
  }

  const keyOf = (base: BaseSpec): string => `${base.seed}|${base.day ?? ''}`;

  test('answers 200 with the cards of the good data', async () => {
    await fc.assert(
      fc.asyncProperty(singleBadResourceArb, async (c) => {
        const built = buildSingleBad(c, TEST_TODAY);
        let intact = intactKinds.get(keyOf(c.base));
        if (!intact) {
          intact = kinds(await cardsOf(built.intact, 'the intact record'));
          intactKinds.set(keyOf(c.base), intact);
        }
        const removed = kinds(await cardsOf(built.removed, `the record without ${built.target}`));
        const mutated = kinds(
          await cardsOf(built.mutated, `the record with ${built.changes.join('; ') || `${built.target} unchanged`}`),
        );
        // The good data alone gives cards: one bad resource must not take them away.
        if (removed.length > 0 && mutated.length === 0)
          throw new Error(`${built.target} malformed: no cards; the good data gives ${removed.join(', ')}`);
        const summary = 'hematotoxicity-summary:info';
        if (intact.includes(summary) && removed.includes(summary) && !mutated.includes(summary))
          throw new Error(`${built.target} malformed: the summary card is gone (${mutated.join(', ')})`);
        const same = (a: string[], b: string[]): boolean => a.join() === b.join();
        if (!same(mutated, intact) && !same(mutated, removed))
          drift.add(
            `${built.target}: intact [${intact.join(', ')}], without it [${removed.join(', ')}], malformed [${mutated.join(', ')}]`,
          );
      }),
      params(RUNS['single-bad']),
    );
  }, 60_000);

  test('the good data alone gives cards (sanity check of the generator)', async () => {
    const built = buildSingleBad({ base: { seed: 1, day: 9 }, resource: 0, ops: [] }, TEST_TODAY);
    expect(kinds(await cardsOf(built.intact, 'the intact record'))).toContain('hematotoxicity-summary:info');
  });
});

describe('POST /assessments bodies of the fuzzer', () => {
  test('unmutated, the transaction form (references by urn:uuid, every third seed; no ids, every sixth) assesses its patient (sanity check)', async () => {
    for (const seed of [3, 6]) {
      const c = {
        endpoint: 'assessments' as const,
        base: { seed, day: 9 },
        contentType: 'application/fhir+json',
        mutations: [],
      };
      const built = buildRequest(c, TEST_TODAY);
      expect(built.body).toContain('"subject":{"reference":"urn:uuid:');
      if (seed === 6) expect(built.body).not.toContain('"id":'); // every resource known by its fullUrl alone
      const res = await request(t.app)
        .post(`${built.path}?asOf=${TEST_TODAY}`)
        .set('content-type', built.contentType)
        .send(built.body)
        .expect(200);
      const a = res.body as { patientId: string; dayPostInfusion: number; issues: { code: string }[] };
      const unread = a.issues.filter((i) => i.code === 'patient-mismatch' || i.code === 'medication-unknown');
      expect([a.patientId, a.dayPostInfusion, unread]).toEqual([`fuzz-${seed}-9`, 9, []]);
    }
  });
});
