/**
 * Bounded FHIR reads over real HTTP: the real express app (listening on a port) calls a hostile
 * fake FHIR server that streams endless or huge bodies, trickles, answers HTML or malformed JSON,
 * redirects, and loops its next links. Each must end in the spec's answer (412 with an
 * OperationOutcome naming the key and why) within the deadline + 1 s, with the socket closed, while
 * other requests keep being served.
 */
import { describe, expect, test } from '@jest/globals';
import { buildTestApp, listenDuringTests, hookRequest } from '../helpers/app.js';
import { anc, infusion } from '../helpers/fhir.js';
import { hostileFhir, type HostileFhirServer, type HostileMode } from '../helpers/hostile-fhir.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
const TIMEOUT_MS = 1500;
const { app, logs } = buildTestApp({
  env: { FHIR_TIMEOUT_MS: String(TIMEOUT_MS), FHIR_MAX_RESPONSE_BYTES: '4mb', FHIR_MAX_CALL_BYTES: '6mb' },
});
const listening = listenDuringTests(app);

async function callPatientView(
  fhirServer: string,
  patientId = 'p1',
  prefetch: Record<string, unknown> = {},
): Promise<{
  status: number;
  body: { issue?: { diagnostics?: string; expression?: string[] }[]; cards?: unknown[] };
  ms: number;
}> {
  const started = Date.now();
  const res = await fetch(`${listening.url()}${SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(hookRequest('patient-view', patientId, { fhirServer, prefetch })),
  });
  return { status: res.status, body: (await res.json()) as never, ms: Date.now() - started };
}

async function withHostile<T>(
  mode: HostileMode,
  run: (fhir: HostileFhirServer) => Promise<T>,
  options: Parameters<typeof hostileFhir>[0] = {},
): Promise<T> {
  const fhir = await hostileFhir({ paths: { Observation: mode }, mode: 'normal', ...options });
  try {
    return await run(fhir);
  } finally {
    await fhir.close();
  }
}

/**
 * A streamed body over a cap: the Observation key is read as several searches in parallel, and the
 * hostile server streams every one of them, so either one response passes FHIR_MAX_RESPONSE_BYTES or
 * all together pass FHIR_MAX_CALL_BYTES first.
 */
const BYTE_CAP = 'larger than FHIR_MAX_RESPONSE_BYTES, or FHIR_MAX_CALL_BYTES for the searches together';
/**
 * Every search of the call streams the body, so each key whose search passes a cap before the call
 * gives up is named, "key: why" joined by "; " (any of the keys, in key order); a key whose read
 * was cut off because another read used up the call's budget says so.
 */
const CAP_ITEM =
  '\\w+: (?:the response to \\w+ search is larger than 4 MB \\(FHIR_MAX_RESPONSE_BYTES\\); reading stopped|' +
  'reading \\w+ search passed the 6 MB this call may read from fhirServer \\(FHIR_MAX_CALL_BYTES\\)|' +
  'reading \\w+ search stopped: another read used up the 6 MB this call may read from fhirServer \\(FHIR_MAX_CALL_BYTES\\))';
const BYTE_CAP_MESSAGE = new RegExp(`^${CAP_ITEM}(?:; ${CAP_ITEM})*$`);
/** The keys named in such a message ("; reading stopped" is no key: a key is followed by ": "). */
const capKeys = (message: string): string[] => [...message.matchAll(/(?:^|; )(\w+): /g)].map((m) => m[1] ?? '');

describe('a hostile fhirServer costs one 412, within the deadline + 1 s, with the socket closed', () => {
  test.each<[HostileMode, string, Parameters<typeof hostileFhir>[0]]>([
    ['endless', BYTE_CAP, {}],
    [
      'huge',
      'the response to Observation search is larger than 4 MB (FHIR_MAX_RESPONSE_BYTES); reading stopped',
      { hugeBytes: 200 * 1_048_576 },
    ],
    ['huge', BYTE_CAP, { hugeBytes: 200 * 1_048_576, contentLength: false }],
    ['gzip-bomb', BYTE_CAP, { bombBytes: 64 * 1_048_576 }],
    [
      'slow-body',
      'fhirServer did not answer within the deadline (FHIR_TIMEOUT_MS); headers and body count',
      { trickleMs: 50 },
    ],
    [
      'slow-headers',
      'fhirServer did not answer within the deadline (FHIR_TIMEOUT_MS); headers and body count',
      { headerDelayMs: 10_000 },
    ],
    ['malformed-json', 'fhirServer answered Observation search with malformed JSON', {}],
    ['encoded', 'fhirServer answered Observation search with a body with content-encoding zstd', { encoding: 'zstd' }],
    ['truncated', 'the connection to fhirServer broke while reading Observation search', {}],
    ['truncated', 'the connection to fhirServer broke while reading Observation search', { encoding: 'gzip' }],
    ['truncated', 'the connection to fhirServer broke while reading Observation search', { encoding: 'br' }],
    ['html-error', 'fhirServer answered 502 to Observation search', {}],
    ['html-login', 'fhirServer answered Observation search with text/html, not FHIR JSON', {}],
    ['wrong-content-type', 'fhirServer answered Observation search with text/plain, not FHIR JSON', {}],
    ['not-fhir', 'fhirServer answered Observation search with JSON that is not a FHIR resource', {}],
    ['next-loop', 'a next link leads back to a page already read (paging loop)', {}],
    ['next-cycle', 'a next link leads back to a page already read (paging loop)', {}],
    [
      'redirect-other-origin',
      'fhirServer answered 302 (redirect) to Observation search; redirects are not followed',
      {},
    ],
    [
      'redirect-same-origin',
      'fhirServer answered 302 (redirect) to Observation search; redirects are not followed',
      {},
    ],
    [
      'operation-outcome',
      'fhirServer reported that the search failed (an OperationOutcome with an error in the Bundle)',
      {},
    ],
  ])('%s → 412: %s', async (mode, why, options) => {
    await withHostile(
      mode,
      async (fhir) => {
        const res = await callPatientView(fhir.baseUrl);
        expect(res.status).toBe(412);
        const prefix = 'Required FHIR data could not be obtained from prefetch or fhirServer: observations: ';
        const diagnostics = res.body.issue?.[0]?.diagnostics ?? '';
        const general = 'Required FHIR data could not be obtained from prefetch or fhirServer: ';
        if (why === BYTE_CAP) {
          expect(diagnostics.startsWith(general)).toBe(true);
          const failures = diagnostics.slice(general.length);
          expect(failures).toMatch(BYTE_CAP_MESSAGE);
          expect(capKeys(failures).length).toBeGreaterThan(0);
          expect(res.body.issue?.[0]?.expression).toEqual(capKeys(failures).map((k) => `prefetch.${k}`));
        } else {
          expect(diagnostics).toBe(`${prefix}${why}`);
          expect(res.body.issue?.[0]?.expression).toEqual(['prefetch.observations']);
        }
        expect(res.ms).toBeLessThan(TIMEOUT_MS + 1000);
        await fhir.settled(2000); // every response the service started reading was closed
        expect(fhir.requests.filter((r) => r.origin === 'other')).toEqual([]);
      },
      options,
    );
  });

  test.each(['gzip', 'deflate', 'br'])(
    'a %s-encoded search reads as the plain one: the same cards',
    async (encoding) => {
      // An infusion and a severe neutropenia: a record that gives cards.
      const resources = [infusion(0), anc(1, 0.3), anc(2, 0.2)];
      const cardsFrom = async (mode: HostileMode): Promise<unknown[]> =>
        withHostile(
          mode,
          async (fhir) => {
            const res = await callPatientView(fhir.baseUrl);
            expect(res.status).toBe(200);
            return (res.body.cards ?? []).map((c) => ({ ...(c as object), uuid: undefined }));
          },
          { resources, encoding },
        );
      const plain = await cardsFrom('normal');
      expect(plain.length).toBeGreaterThan(0);
      expect(JSON.stringify(plain)).toContain('ANC 0.2');
      expect(await cardsFrom('encoded')).toEqual(plain);
    },
  );

  test('an endless body is cut off after the cap: bytes read stay near 4 MB, not the stream', async () => {
    await withHostile('endless', async (fhir) => {
      const res = await callPatientView(fhir.baseUrl);
      expect(res.status).toBe(412);
      await fhir.settled(2000);
      const observation = fhir.requests.find((r) => r.url.includes('/Observation'));
      expect(observation?.closedByClient).toBe(true);
      // What the server managed to write before the close: the cap plus socket buffers, far from unbounded.
      expect(observation?.bytesWritten).toBeLessThan(16 * 1_048_576);
    });
  });

  test('other requests are served while a call waits on a trickling body', async () => {
    await withHostile(
      'slow-body',
      async (fhir) => {
        const pending = callPatientView(fhir.baseUrl);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const started = Date.now();
        const health = await fetch(`${listening.url()}/healthz`);
        expect(health.status).toBe(200);
        expect(Date.now() - started).toBeLessThan(300);
        expect((await pending).status).toBe(412);
      },
      { trickleMs: 5 },
    );
  });

  test('the byte budget is per call: several keys together may not pass FHIR_MAX_CALL_BYTES', async () => {
    const fhir = await hostileFhir({
      mode: 'normal',
      paths: { Observation: 'huge', MedicationAdministration: 'huge', Procedure: 'huge' },
      hugeBytes: 3 * 1_048_576,
      contentLength: false,
    });
    try {
      const res = await callPatientView(fhir.baseUrl);
      expect(res.status).toBe(412);
      expect(res.body.issue?.[0]?.diagnostics).toContain('this call may read from fhirServer (FHIR_MAX_CALL_BYTES)');
    } finally {
      await fhir.close();
    }
  });

  test('the budget used up by one search: the 412 blames that search; the reads it cut off say so', async () => {
    // Seven Observation searches of 1.5 MB each (under the 4 MB per response) pass the call's 6 MB;
    // the MedicationAdministration search answers after that.
    const fhir = await hostileFhir({
      mode: 'normal',
      paths: { Observation: 'huge', MedicationAdministration: 'slow-headers' },
      hugeBytes: 1.5 * 1_048_576,
      hugeEntries: 1000, // the _count asked for: a page of more is refused before the budget is
      headerDelayMs: 600,
    });
    try {
      const res = await callPatientView(fhir.baseUrl);
      expect(res.status).toBe(412);
      const diagnostics = res.body.issue?.[0]?.diagnostics ?? '';
      const general = 'Required FHIR data could not be obtained from prefetch or fhirServer: ';
      expect(diagnostics.startsWith(general)).toBe(true);
      const items = new Map(
        diagnostics
          .slice(general.length)
          .split(/; (?=\w+: )/)
          .map((item) => [item.split(': ')[0], item.slice(item.indexOf(': ') + 2)]),
      );
      expect(items.get('observations')).toBe(
        'reading Observation search passed the 6 MB this call may read from fhirServer (FHIR_MAX_CALL_BYTES)',
      );
      const cutOff = (type: string): string =>
        `reading ${type} search stopped: another read used up the 6 MB this call may read from fhirServer (FHIR_MAX_CALL_BYTES)`;
      expect(items.get('medicationAdministrations')).toBe(cutOff('MedicationAdministration'));
      // Procedure is read at once and usually done before; if not, it says it was cut off too.
      if (items.has('procedures')) expect(items.get('procedures')).toBe(cutOff('Procedure'));
      expect(res.body.issue?.[0]?.expression).toEqual([...items.keys()].map((k) => `prefetch.${k}`));
    } finally {
      await fhir.close();
    }
  });

  test('a 404 whose diagnostics echo the patient id: 412, and the id reaches no log line', async () => {
    const fhir = await hostileFhir({ mode: '404-with-id' });
    try {
      const patientId = 'secret-patient-4711';
      const res = await callPatientView(fhir.baseUrl, patientId);
      expect(res.status).toBe(412);
      expect(res.body.issue?.[0]?.diagnostics).toContain('fhirServer answered 404 to MedicationAdministration search');
      expect(JSON.stringify(res.body)).not.toContain(patientId);
      expect(logs.text).not.toContain(patientId);
    } finally {
      await fhir.close();
    }
  });
});

describe('a failed search is not an empty record', () => {
  const failedSearch = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: [
      {
        resource: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'timeout', diagnostics: 'search timed out' }],
        },
        search: { mode: 'outcome' },
      },
    ],
  };
  const empty = { resourceType: 'Bundle', type: 'searchset', entry: [] };

  test('an OperationOutcome in the prefetch and no fhirServer: 412 naming the key, no card saying there are no values', async () => {
    const res = await fetch(`${listening.url()}${SERVICE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        hookRequest('patient-view', 'p1', {
          prefetch: {
            patient: null,
            observations: failedSearch,
            medicationAdministrations: empty,
            procedures: empty,
            conditions: empty,
          },
        }),
      ),
    });
    expect(res.status).toBe(412);
    const body = (await res.json()) as { issue: { diagnostics: string; expression: string[] }[] };
    expect(body.issue[0]).toMatchObject({
      diagnostics:
        "Required FHIR data could not be obtained from prefetch or fhirServer: observations: the client's prefetch search reported an error (OperationOutcome in the Bundle) and no fhirServer was given",
      expression: ['prefetch.observations'],
    });
  });

  test('an OperationOutcome in the prefetch with a fhirServer: the key is read from fhirServer instead', async () => {
    await withHostile('normal', async (fhir) => {
      const res = await callPatientView(fhir.baseUrl, 'p1', {
        patient: null,
        observations: failedSearch,
        medicationAdministrations: empty,
        procedures: empty,
        conditions: empty,
      });
      expect(res.status).toBe(200);
      // Only the Observation key is read (as one search per code group).
      expect([...new Set(fhir.requests.map((r) => r.url.split('?')[0]))]).toEqual(['/fhir/Observation']);
    });
  });

  test('a warning outcome (e.g. "no results") leaves the prefetch usable', async () => {
    const warning = {
      ...failedSearch,
      entry: [
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'warning', code: 'informational', diagnostics: 'no results' }],
          },
          search: { mode: 'outcome' },
        },
      ],
    };
    const res = await fetch(`${listening.url()}${SERVICE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        hookRequest('patient-view', 'p1', {
          prefetch: {
            patient: null,
            observations: warning,
            medicationAdministrations: empty,
            procedures: empty,
            conditions: empty,
          },
        }),
      ),
    });
    expect(res.status).toBe(200);
  });
});

describe('a search page holding more results than the _count asked for (R4: a server SHALL NOT)', () => {
  const small = listenDuringTests(buildTestApp({ env: { FHIR_PAGE_SIZE: '10' } }).app);
  const record = (observations: number) => [
    infusion(0),
    ...Array.from({ length: observations }, (_, i) => anc(i + 1, 0.2, { id: `anc-${i}` })),
  ];

  // Before: 11 results to a _count=10 read as data (a hostile server's millions of entries too).
  test.each<[number, number, string | undefined]>([
    [10, 200, undefined],
    [
      11,
      412,
      'observations: fhirServer answered Observation search with a Bundle whose entry holds more than the 10 results asked for (_count)',
    ],
  ])('%i Observations to a search with _count=10: %i', async (observations, status, why) => {
    await withHostile(
      'normal',
      async (fhir) => {
        const res = await fetch(`${small.url()}${SERVICE}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(hookRequest('patient-view', 'p1', { fhirServer: fhir.baseUrl })),
        });
        const body = (await res.json()) as { issue?: { diagnostics?: string }[] };
        expect(fhir.requests.some((r) => r.url.includes('_count=10'))).toBe(true);
        expect([res.status, body.issue?.[0]?.diagnostics]).toEqual([
          status,
          why && `Required FHIR data could not be obtained from prefetch or fhirServer: ${why}`,
        ]);
      },
      { resources: record(observations) },
    );
  });
});
