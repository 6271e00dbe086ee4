/**
 * MAX_JSON_VALUES_IN_FLIGHT and MAX_BODY_BYTES_IN_FLIGHT over the real app, listening on a loopback
 * port, with a hostile FHIR server at the HTTP boundary (slow for one patient, dense for another):
 * the JSON values of request bodies and fhirServer answers, and the bytes of bodies, held by calls
 * not yet answered stay within them. A call that finds no room waits up to MEMORY_WAIT_MS, then gets
 * a 503 with Retry-After; room comes back whenever a call is answered, fails or is abandoned.
 *
 * Caps here: BODY_MAX_JSON_VALUES 20,000, MAX_JSON_VALUES_IN_FLIGHT 30,000. Call A holds some 17,000
 * values (a body of 8,500 empty objects) while its FHIR server keeps it waiting 1.5 s; call B brings
 * 14,000 more in its body, or 18,000 in its FHIR server's answer.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { buildTestApp, hookRequest, listenDuringTests } from '../helpers/app.js';
import { fakeServer } from '../helpers/servers.js';
import { jsonValueCount } from '../../src/fhir/json-text.js';
import type { CdsJwtVerifier } from '../../src/cds-hooks/auth.js';

const SERVICE = '/cds-services/cart-hematotox-patient-view';
const CAPS = { BODY_MAX_JSON_VALUES: '20000', MAX_JSON_VALUES_IN_FLIGHT: '30000' };
const SLOW_MS = 1500;

/** 18 JSON values per Observation entry: 1,000 of them (a page of FHIR_PAGE_SIZE) hold some 18,000. */
const denseBundle = JSON.stringify({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: Array.from({ length: 1000 }, (_, i) => ({
    resource: {
      resourceType: 'Observation',
      id: `o${i}`,
      status: 'final',
      code: { text: 'x' },
      subject: { reference: 'Patient/dense' },
    },
  })),
});

const denseMedication = JSON.stringify({
  resourceType: 'Medication',
  id: 'dense-drug',
  code: { text: 'tocilizumab', coding: Array.from({ length: 7000 }, () => ({})) },
});

let fhir: Awaited<ReturnType<typeof fakeServer>>;
beforeAll(async () => {
  fhir = await fakeServer((req, res) => {
    const url = req.url ?? '';
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      if (/\/Patient\/[a-z]+$/.test(url)) res.end(JSON.stringify({ resourceType: 'Patient', id: 'p' }));
      // One of the Observation searches (hemoglobin's), so that the call's answers stay under 20,000.
      else if (url.includes('dense') && url.includes('718-7')) res.end(denseBundle);
      // A draft order's Medication of some 21,000 values (7,000 empty codings).
      else if (url.endsWith('/Medication/dense-drug')) res.end(denseMedication);
      else res.end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [] }));
    };
    if (url.includes('slow')) setTimeout(answer, SLOW_MS);
    else answer();
  });
});
afterAll(() => fhir.close());

/** A's body: 8,500 empty objects, some 17,000 values (25,500 characters: counted). */
const holdingBody = (): Record<string, unknown> =>
  hookRequest('patient-view', 'slow', {
    fhirServer: `${fhir.url}/fhir`,
    extension: { filler: Array.from({ length: 8_500 }, () => ({})) },
  });

/** B's body: 7,000 empty objects (14,000 values, 21,000 characters: longer than the cap, so counted). */
const denseBody = (): Record<string, unknown> =>
  hookRequest('patient-view', 'fast', {
    fhirServer: `${fhir.url}/fhir`,
    extension: { filler: Array.from({ length: 7000 }, () => ({})) },
  });

function post(base: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}${SERVICE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/**
 * Starts call A; resolves once its FHIR server has its first request (A holds its room by then),
 * with A's answer still to come (wrapped: an async function returning a promise would wait for it).
 */
async function startHolding(base: string): Promise<{ a: Promise<Response> }> {
  const seen = fhir.requests.length;
  const a = post(base, holdingBody());
  while (!fhir.requests.slice(seen).some((u) => u.includes('slow'))) await new Promise((r) => setTimeout(r, 10));
  return { a };
}

/** The value of a metric of GET /metrics. */
async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

/** The memory budget's counters: values and bytes held, calls waiting, calls refused. */
function memoryCounters(base: string): Promise<number[]> {
  const names = [
    'cds_json_values_in_flight',
    'cds_body_bytes_in_flight',
    'cds_memory_waiting_calls',
    'cds_memory_refused_total',
  ];
  return Promise.all(names.map((name) => metric(base, name)));
}

const BUSY =
  /^the service is busy with other large calls: [\d,]+ JSON values did not fit within MAX_JSON_VALUES_IN_FLIGHT \(30,000\) in 300 ms$/;

test('the fixtures hold what the caps are set for', () => {
  const a = jsonValueCount(JSON.stringify(holdingBody()));
  const b = jsonValueCount(JSON.stringify(denseBody()));
  expect([a > 17_000 && a < 17_500, b > 14_000 && b < 14_100, JSON.stringify(denseBody()).length > 20_000]).toEqual([
    true,
    true,
    true,
  ]);
  const answer = jsonValueCount(denseBundle);
  expect(answer > 16_500 && answer < 19_000).toBe(true);
});

describe('MEMORY_WAIT_MS 300: a call that finds no room is refused', () => {
  const { app } = buildTestApp({ env: { ...CAPS, MEMORY_WAIT_MS: '300' } });
  const server = listenDuringTests(app);

  test('its body: 503 with Retry-After and the setting named, after the wait; the call holding the room is answered', async () => {
    const { a } = await startHolding(server.url());
    const started = performance.now();
    const b = await post(server.url(), denseBody());
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect([b.status, b.headers.get('retry-after')]).toEqual([503, '1']);
    const outcome = (await b.json()) as { issue: { code: string; diagnostics: string }[] };
    expect(outcome.issue).toEqual([{ severity: 'error', code: 'transient', diagnostics: expect.stringMatching(BUSY) }]);
    expect((await a).status).toBe(200);
    expect(await metric(server.url(), 'cds_json_values_in_flight')).toBe(0);
  });

  test("fhirServer's answer: the same 503, though the body (a few hundred values) found room", async () => {
    const { a } = await startHolding(server.url());
    const b = await post(server.url(), hookRequest('patient-view', 'dense', { fhirServer: `${fhir.url}/fhir` }));
    expect([b.status, b.headers.get('retry-after')]).toEqual([503, '1']);
    const outcome = (await b.json()) as { issue: { diagnostics: string }[] };
    expect(outcome.issue[0]?.diagnostics).toMatch(BUSY);
    expect((await a).status).toBe(200);
    // Alone, the same call reads its 14,000 values and is answered.
    expect(
      (await post(server.url(), hookRequest('patient-view', 'dense', { fhirServer: `${fhir.url}/fhir` }))).status,
    ).toBe(200);
    expect(await metric(server.url(), 'cds_memory_refused_total')).toBe(2);
    expect(await metric(server.url(), 'cds_json_values_in_flight')).toBe(0);
  });
});

/** A raw HTTP request that sends `sent` bytes of a `declared`-byte JSON body and stalls; destroy() ends it. */
function trickle(base: string, declared: number, sent: number, headers = ''): Promise<Socket> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `POST ${SERVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n${headers}\r\n`,
      );
      socket.write(`{"pad":"${'x'.repeat(sent - 8)}`);
      resolve(socket);
    });
    socket.on('error', () => undefined);
  });
}

test("order-sign: no room for a draft order's Medication is a 503 too, never an order signed unchecked", async () => {
  const { app } = buildTestApp({ env: { ...CAPS, MEMORY_WAIT_MS: '300' } });
  const listening = app.listen(0, '127.0.0.1');
  await new Promise((r) => listening.once('listening', r));
  const base = `http://127.0.0.1:${(listening.address() as { port: number }).port}`;
  try {
    const { a } = await startHolding(base);
    const draftOrders = {
      resourceType: 'Bundle',
      entry: [
        {
          resource: {
            resourceType: 'MedicationRequest',
            id: 'mr1',
            status: 'draft',
            intent: 'order',
            subject: { reference: 'Patient/p1' },
            medicationReference: { reference: 'Medication/dense-drug' },
          },
        },
      ],
    };
    const res = await fetch(`${base}/cds-services/cart-hematotox-order-sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...hookRequest('order-sign', 'p1'),
        fhirServer: `${fhir.url}/fhir`,
        context: { userId: 'Practitioner/x', patientId: 'p1', draftOrders },
      }),
    });
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '1']);
    const outcome = (await res.json()) as { issue: { diagnostics: string }[] };
    expect(outcome.issue[0]?.diagnostics).toMatch(BUSY);
    expect((await a).status).toBe(200);
  } finally {
    await new Promise((r) => listening.close(r));
  }
});

describe('MAX_BODY_BYTES_IN_FLIGHT 35kb, MEMORY_WAIT_MS 300: a body takes room for its bytes before it is read', () => {
  const { app } = buildTestApp({
    env: { BODY_LIMIT: '30kb', MAX_BODY_BYTES_IN_FLIGHT: '35kb', MEMORY_WAIT_MS: '300' },
  });
  const server = listenDuringTests(app);

  test('a sender stalled after 20 KB of 30,000 declared holds the 30,000: 21 KB more is a 503 with Retry-After naming the setting; 5 KB more is let in', async () => {
    const stalled = await trickle(server.url(), 30_000, 20_000);
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(await metric(server.url(), 'cds_body_bytes_in_flight')).toBe(30_000);
      const b = await post(server.url(), denseBody());
      expect([b.status, b.headers.get('retry-after')]).toEqual([503, '1']);
      const outcome = (await b.json()) as { issue: { diagnostics: string }[] };
      expect(outcome.issue[0]?.diagnostics).toMatch(
        /^the service is busy with other large calls: 21,\d{3} bytes of request body did not fit within MAX_BODY_BYTES_IN_FLIGHT \(35,840\) in 300 ms$/,
      );
      const small = hookRequest('patient-view', 'p1', { extension: { pad: 'x'.repeat(5_000) } });
      expect((await post(server.url(), small)).status).toBe(412); // let in: no prefetch, no fhirServer
    } finally {
      stalled.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(server.url(), 'cds_body_bytes_in_flight')).toBe(0);
    expect((await post(server.url(), denseBody())).status).toBe(200);
  });

  test('given back once the body is parsed: a call waiting on fhirServer holds none', async () => {
    const { a } = await startHolding(server.url());
    expect([
      await metric(server.url(), 'cds_body_bytes_in_flight'),
      await metric(server.url(), 'cds_json_values_in_flight'),
      // Under a quarter of the default BODY_MAX_JSON_VALUES: bounded by its length, not counted.
    ]).toEqual([0, JSON.stringify(holdingBody()).length]);
    expect((await a).status).toBe(200);
  });
});

describe('a client that leaves while its call waits for client authentication', () => {
  // Client authentication that takes 300 ms (a JWKS fetch, the replay store): the client leaves at 50.
  const verifier = {
    verify: async () => {
      await new Promise((r) => setTimeout(r, 300));
      return { ok: true as const, iss: 'https://ehr.example.org', sub: 'ehr', jti: 'j' };
    },
  } as unknown as CdsJwtVerifier;
  const { app } = buildTestApp({ env: { MEMORY_WAIT_MS: '500' }, overrides: { verifier } });
  const server = listenDuringTests(app);

  test('holds no room once its call goes on without it (chunked or with a length)', async () => {
    for (const headers of ['Transfer-Encoding: chunked\r\n', '']) {
      const gone = await trickle(server.url(), 200, 100, `Authorization: Bearer a.b.c\r\n${headers}`);
      await new Promise((r) => setTimeout(r, 50));
      gone.destroy();
    }
    await new Promise((r) => setTimeout(r, 600));
    expect(await memoryCounters(server.url())).toEqual([0, 0, 0, 0]);
  });
});

describe('a call counts its body and its fhirServer answers together against BODY_MAX_JSON_VALUES', () => {
  const { app } = buildTestApp({ env: { ...CAPS, MEMORY_WAIT_MS: '300' } });
  const server = listenDuringTests(app);

  test('a body longer than a quarter of the cap is counted, not bounded by its length: 6,200 characters of few values leave room for an 18,000-value answer', async () => {
    const body = hookRequest('patient-view', 'dense', {
      fhirServer: `${fhir.url}/fhir`,
      extension: { pad: 'x'.repeat(6_000) },
    });
    expect(JSON.stringify(body).length).toBeGreaterThan(6_000);
    expect((await post(server.url(), body)).status).toBe(200);
  });

  test('a body of 7,000 empty objects (14,000 values) and the same answer: more than 20,000 together, a 412 naming the setting', async () => {
    const body = { ...denseBody(), context: { userId: 'Practitioner/x', patientId: 'dense' } };
    const res = await post(server.url(), body);
    expect(res.status).toBe(412);
    expect(JSON.stringify(await res.json())).toContain(
      "fhirServer's answers to this call and its request body hold more than 20,000 JSON values (BODY_MAX_JSON_VALUES); not parsed",
    );
  });
});

test('HTTP/1.1 pipelining: a queued call whose client leaves gives its room back (it is never sent, nor closed)', async () => {
  const { app } = buildTestApp({ env: { ...CAPS } });
  const listening = app.listen(0, '127.0.0.1');
  await new Promise((r) => listening.once('listening', r));
  const base = `http://127.0.0.1:${(listening.address() as { port: number }).port}`;
  try {
    const one = (body: unknown): string => {
      const text = JSON.stringify(body);
      return `POST ${SERVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
    };
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.on('error', () => undefined);
    // The first waits 1.5 s on its fhirServer; the second, queued behind it, is parsed meanwhile.
    socket.write(one(holdingBody()) + one(hookRequest('patient-view', 'p2', { extension: { pad: 'y'.repeat(4000) } })));
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await new Promise((r) => setTimeout(r, SLOW_MS + 300));
    expect([await metric(base, 'cds_json_values_in_flight'), await metric(base, 'cds_body_bytes_in_flight')]).toEqual([
      0, 0,
    ]);
  } finally {
    await new Promise((r) => listening.close(r));
  }
});

describe('MEMORY_WAIT_MS 10,000: a call that finds no room waits for it', () => {
  const { app } = buildTestApp({ env: { ...CAPS, MEMORY_WAIT_MS: '10000' } });
  const server = listenDuringTests(app);

  test('answered once the call holding the room is, in that order', async () => {
    const order: string[] = [];
    const a = (await startHolding(server.url())).a.then((r) => (order.push('A'), r));
    const b = await post(server.url(), denseBody()).then((r) => (order.push('B'), r));
    expect([(await a).status, b.status, order]).toEqual([200, 200, ['A', 'B']]);
  });

  test('room comes back from every end of a call: abandoned while waiting, refused after parsing (400), answered', async () => {
    const { a } = await startHolding(server.url());
    const gone = new AbortController();
    const waiting = post(server.url(), denseBody(), gone.signal).catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(server.url(), 'cds_memory_waiting_calls')).toBe(1);
    gone.abort();
    await waiting;
    const bad = await post(server.url(), { ...hookRequest('patient-view', 'p1'), hook: 12 });
    expect(bad.status).toBe(400);
    expect((await a).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50)); // the abandoned call's socket closes
    expect(await memoryCounters(server.url())).toEqual([0, 0, 0, 0]);
  });
});
