/**
 * The hostile FHIR test server misbehaves exactly as documented, checked with plain fetch, so
 * tests that point the service at it fail for the service's faults, not the helper's.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { isUtf8 } from 'node:buffer';
import { get as httpGet } from 'node:http';
import { brotliDecompressSync, createGunzip, gunzipSync, inflateSync } from 'node:zlib';
import type { Bundle, Observation, OperationOutcome } from 'fhir/r4.js';
import { hostileFhir, type HostileFhirServer, type HostileOptions } from '../helpers/hostile-fhir.js';
import { BUNDLE_OPEN } from '../helpers/hostile-fhir-bodies.js';
import { NESTED_DEPTH, NON_ASCII_TAG } from '../helpers/hostile-fhir-odd.js';

const MB = 1024 * 1024;
let server: HostileFhirServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const start = async (options: HostileOptions): Promise<HostileFhirServer> => {
  server = await hostileFhir(options);
  return server;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a response body until `limit` bytes (or its end); returns the bytes read and whether it ended. */
async function readUpTo(res: Response, limit: number): Promise<{ bytes: number; text: string; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = '';
  while (bytes < limit) {
    const { done, value } = await reader.read();
    if (done) return { bytes, text, ended: true };
    bytes += value.length;
    if (text.length < 4096) text += decoder.decode(value, { stream: true });
  }
  return { bytes, text, ended: false };
}

/**
 * Inflates a gzip body through node:http and zlib and counts it without keeping it. Not fetch: undici
 * pauses its parser while a slow consumer inflates (300 MB takes seconds on a loaded CI machine), and
 * the server's 5 s keep-alive timeout then closes the socket under it ("other side closed").
 */
function countGunzipped(url: string): Promise<{ bytes: number; head: string; tail: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let bytes = 0;
      let head = '';
      let last: Buffer = Buffer.alloc(0);
      const inflate = res.pipe(createGunzip());
      inflate.on('data', (chunk: Buffer) => {
        if (bytes === 0) head = chunk.subarray(0, 64).toString();
        bytes += chunk.length;
        last = chunk;
      });
      inflate.on('end', () => resolve({ bytes, head, tail: last.subarray(-16).toString() }));
      inflate.on('error', reject);
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('hostile FHIR helper', () => {
  test('normal: serves the given resources as one searchset and the Patient read; records requests', async () => {
    const obs: Observation = {
      resourceType: 'Observation',
      id: 'o1',
      status: 'final',
      code: { text: 'ANC' },
      subject: { reference: 'Patient/p1' },
    };
    const s = await start({ resources: [obs] });
    const search = await fetch(`${s.baseUrl}/Observation?patient=p1`, { headers: { authorization: 'Bearer t' } });
    expect(search.headers.get('content-type')).toBe('application/fhir+json');
    expect(await search.json()).toMatchObject({
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [{ resource: { id: 'o1' }, search: { mode: 'match' } }],
    });
    expect(await (await fetch(`${s.baseUrl}/Patient/p1`)).json()).toEqual({ resourceType: 'Patient', id: 'p1' });
    expect(s.requests).toMatchObject([
      {
        method: 'GET',
        url: '/fhir/Observation?patient=p1',
        hasAuthorization: true,
        origin: 'main',
        mode: 'normal',
        finished: true,
        closedByClient: false,
      },
      { method: 'GET', url: '/fhir/Patient/p1', hasAuthorization: false, finished: true },
    ]);
  });

  test('endless: a valid searchset that never ends, stopped by the client aborting', async () => {
    const s = await start({ mode: 'endless' });
    const abort = new AbortController();
    const res = await fetch(`${s.baseUrl}/Observation?patient=p-endless`, { signal: abort.signal });
    const read = await readUpTo(res, 16 * MB);
    expect(read.ended).toBe(false);
    expect(read.text.startsWith(`${BUNDLE_OPEN}{"fullUrl"`)).toBe(true);
    expect(read.text).toContain('"subject":{"reference":"Patient/p-endless"}');
    abort.abort();
    const aborted = Date.now();
    await s.settled(2000);
    expect(s.requests[0]).toMatchObject({ closedByClient: true, finished: false });
    expect(Date.now() - aborted).toBeLessThan(1000);
    expect(s.requests[0]?.bytesWritten).toBeGreaterThanOrEqual(16 * MB);
    while (s.openSockets() > 0) await sleep(10);
  });

  test('endless: respects backpressure, so a client that stops reading stops the writes', async () => {
    const s = await start({ mode: 'endless' });
    const abort = new AbortController();
    const res = await fetch(`${s.baseUrl}/Observation?patient=p1`, { signal: abort.signal });
    await readUpTo(res, 256 * 1024);
    await sleep(300);
    const plateau = s.bytesWritten();
    await sleep(300);
    expect(s.bytesWritten()).toBe(plateau);
    expect(plateau).toBeLessThan(32 * MB);
    abort.abort();
    await s.settled(2000);
  });

  test.each([true, false])(
    'huge: one valid searchset of exactly the configured size (Content-Length: %s)',
    async (contentLength) => {
      const size = 8 * MB + 123;
      const s = await start({ mode: 'huge', hugeBytes: size, contentLength });
      const res = await fetch(`${s.baseUrl}/Observation?patient=p-huge`);
      expect(res.headers.get('content-length')).toBe(contentLength ? String(size) : null);
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBe(size);
      const bundle = JSON.parse(text) as Bundle;
      expect(bundle.total).toBeGreaterThan(10_000);
      expect(bundle.entry).toHaveLength(bundle.total ?? -1);
      expect(new Set(bundle.entry?.map((e) => e.resource?.id)).size).toBe(bundle.total);
      expect(bundle.entry?.every((e) => (e.resource as Observation).subject?.reference === 'Patient/p-huge')).toBe(
        true,
      );
    },
  );

  test('huge (default 200 MB): streamed, so a client that stops after 1 MB leaves it a few MB in', async () => {
    const s = await start({ mode: 'huge' });
    const abort = new AbortController();
    const res = await fetch(`${s.baseUrl}/Observation?patient=p1`, { signal: abort.signal });
    expect(res.headers.get('content-length')).toBe(String(200 * MB));
    expect((await readUpTo(res, MB)).text.startsWith('{"resourceType":"Bundle","type":"searchset","total":')).toBe(
      true,
    );
    abort.abort();
    await s.settled(2000);
    expect(s.requests[0]).toMatchObject({ closedByClient: true });
    expect(s.requests[0]?.bytesWritten).toBeLessThan(16 * MB);
  });

  test('slow-headers: answers only after the delay; a client that gives up first closes the socket', async () => {
    const s = await start({ mode: 'slow-headers', headerDelayMs: 300 });
    const started = Date.now();
    const res = await fetch(`${s.baseUrl}/Observation`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(await res.json()).toMatchObject({ resourceType: 'Bundle' });
    await expect(fetch(`${s.baseUrl}/Observation`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    await s.settled(1000);
    expect(s.requests[1]).toMatchObject({ closedByClient: true, bytesWritten: 0 });
  });

  test('slow-body: headers at once, then one byte per tick of a Bundle that never completes', async () => {
    const s = await start({ mode: 'slow-body', trickleMs: 20 });
    const abort = new AbortController();
    const res = await fetch(`${s.baseUrl}/Observation?patient=p1`, { signal: abort.signal });
    expect(res.status).toBe(200);
    await sleep(400);
    abort.abort();
    await s.settled(1000);
    const written = s.requests[0]?.bytesWritten ?? 0;
    expect(written).toBeGreaterThan(5);
    expect(written).toBeLessThan(30);
    expect(s.requests[0]?.closedByClient).toBe(true);
  });

  test('malformed-json, html-error, html-login, wrong-content-type', async () => {
    const s = await start({
      paths: {
        Observation: 'malformed-json',
        Condition: 'html-error',
        Procedure: 'html-login',
        Patient: 'wrong-content-type',
      },
    });
    const truncated = await fetch(`${s.baseUrl}/Observation`);
    expect([truncated.status, truncated.headers.get('content-type')]).toEqual([200, 'application/fhir+json']);
    await expect(truncated.json()).rejects.toMatchObject({ name: 'SyntaxError' });
    const gateway = await fetch(`${s.baseUrl}/Condition`);
    expect([gateway.status, gateway.headers.get('content-type')]).toEqual([502, 'text/html']);
    expect(await gateway.text()).toContain('502 Bad Gateway');
    const login = await fetch(`${s.baseUrl}/Procedure`);
    expect([login.status, login.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await login.text()).toContain('<form');
    const plain = await fetch(`${s.baseUrl}/Patient/p1`);
    expect(plain.headers.get('content-type')).toBe('text/plain');
    expect(JSON.parse(await plain.text())).toEqual({ resourceType: 'Patient', id: 'p1' });
  });

  test('next-loop points to itself; next-cycle alternates between two pages', async () => {
    const s = await start({ mode: 'next-loop' });
    const url = `${s.baseUrl}/Observation?patient=p1`;
    const loop = (await (await fetch(url)).json()) as Bundle;
    expect(loop.link?.find((l) => l.relation === 'next')?.url).toBe(url);
    s.setMode('next-cycle');
    const first = (await (await fetch(url)).json()) as Bundle;
    const second = first.link?.find((l) => l.relation === 'next')?.url ?? '';
    expect(second).not.toBe(url);
    const back = ((await (await fetch(second)).json()) as Bundle).link?.find((l) => l.relation === 'next')?.url ?? '';
    expect(((await (await fetch(back)).json()) as Bundle).link?.find((l) => l.relation === 'next')?.url).toBe(second);
  });

  test('redirect to another origin and to the same origin', async () => {
    const s = await start({ mode: 'redirect-other-origin' });
    const manual = await fetch(`${s.baseUrl}/Observation?patient=p1`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe(`${s.otherOriginUrl}/Observation?patient=p1`);
    expect(new URL(s.otherOriginUrl).origin).not.toBe(new URL(s.baseUrl).origin);
    expect(await (await fetch(`${s.baseUrl}/Observation?patient=p1`)).json()).toMatchObject({ resourceType: 'Bundle' });
    expect(s.requests.map((r) => r.origin)).toEqual(['main', 'main', 'other']);
    s.setMode('redirect-same-origin');
    const same = await fetch(`${s.baseUrl}/Patient/p1`, { redirect: 'manual' });
    expect(same.headers.get('location')).toBe(`${s.baseUrl}/_moved/Patient/p1`);
    expect(await (await fetch(`${s.baseUrl}/Patient/p1`)).json()).toEqual({ resourceType: 'Patient', id: 'p1' });
  });

  test('not-fhir, operation-outcome, 404-with-id', async () => {
    const s = await start({ mode: 'not-fhir' });
    expect(await (await fetch(`${s.baseUrl}/Observation`)).json()).toEqual([]);
    expect(await (await fetch(`${s.baseUrl}/Patient/p1`)).json()).toEqual({ foo: 1 });
    s.setMode('operation-outcome');
    const outcome = (await (await fetch(`${s.baseUrl}/Observation?patient=p1`)).json()) as Bundle;
    expect(outcome).toMatchObject({
      type: 'searchset',
      entry: [
        { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] }, search: { mode: 'outcome' } },
      ],
    });
    s.setMode('404-with-id');
    const missing = await fetch(`${s.baseUrl}/Observation?patient=${encodeURIComponent('<b>x</b>')}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as OperationOutcome).issue[0]?.diagnostics).toContain('Patient/<b>x</b>');
  });

  test('outcome-200, patient-for-search: a 200 that is not the searchset asked for', async () => {
    const s = await start({ paths: { Observation: 'outcome-200', Procedure: 'patient-for-search' } });
    const failed = await fetch(`${s.baseUrl}/Observation?patient=p1`);
    expect([failed.status, failed.headers.get('content-type')]).toEqual([200, 'application/fhir+json']);
    expect(await failed.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
    expect(await (await fetch(`${s.baseUrl}/Procedure?patient=p1`)).json()).toEqual({
      resourceType: 'Patient',
      id: 'p-other',
    });
  });

  test('entry-object, entry-null, entry-nested: a searchset whose entry is no list of objects', async () => {
    const obs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'ANC' } };
    const s = await start({ resources: [obs], mode: 'entry-object' });
    const object = (await (await fetch(`${s.baseUrl}/Observation`)).json()) as { entry: unknown };
    expect(object).toMatchObject({
      resourceType: 'Bundle',
      type: 'searchset',
      entry: { 0: { resource: { id: 'o1' } } },
    });
    expect(Array.isArray(object.entry)).toBe(false);
    s.setMode('entry-null');
    expect(await (await fetch(`${s.baseUrl}/Observation`)).json()).toMatchObject({
      resourceType: 'Bundle',
      entry: null,
    });
    s.setMode('entry-nested');
    let nested: unknown = ((await (await fetch(`${s.baseUrl}/Observation`)).json()) as { entry: unknown }).entry;
    let depth = 0;
    while (Array.isArray(nested) && nested.length > 0) [nested, depth] = [nested[0], depth + 1];
    expect(depth).toBe(NESTED_DEPTH - 1);
  });

  test.each<[string, string | null, (body: Buffer) => string]>([
    ['bom-utf8', null, (b) => b.subarray(3).toString('utf8')],
    ['utf16', 'application/fhir+json; charset=utf-16le', (b) => b.subarray(2).toString('utf16le')],
    ['latin1', 'application/fhir+json; charset=iso-8859-1', (b) => b.toString('latin1')],
    ['invalid-utf8', null, (b) => b.toString('latin1')],
  ])('%s: the normal searchset in those bytes', async (mode, charsetType, decode) => {
    const s = await start({ mode: mode as HostileOptions['mode'] });
    const raw = await rawGet(`${s.baseUrl}/Observation?patient=p1`);
    expect(raw.type).toBe(charsetType ?? 'application/fhir+json');
    if (mode === 'bom-utf8') expect([...raw.body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    if (mode === 'utf16') expect([...raw.body.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    if (mode === 'invalid-utf8') expect(isUtf8(raw.body)).toBe(false);
    expect(JSON.parse(decode(raw.body))).toMatchObject({
      resourceType: 'Bundle',
      type: 'searchset',
      meta: { tag: [{ display: NON_ASCII_TAG }] },
    });
  });

  test('gzip-bomb: a small gzip body that inflates to exactly the stated size of one valid Bundle', async () => {
    const s = await start({ mode: 'gzip-bomb', bombBytes: 4 * MB });
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      httpGet(`${s.baseUrl}/Observation?patient=p-bomb`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(raw.encoding).toBe('gzip');
    const inflated = gunzipSync(raw.body);
    expect(inflated.length).toBe(4 * MB);
    expect(JSON.parse(inflated.toString())).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });

    await s.close();
    const big = await start({ mode: 'gzip-bomb', bombBytes: 300 * MB });
    const counted = await countGunzipped(`${big.baseUrl}/Observation?patient=p-bomb`);
    expect(counted.bytes).toBe(300 * MB);
    expect(counted.head.startsWith(BUNDLE_OPEN)).toBe(true);
    expect(counted.tail.endsWith(']}')).toBe(true);
    expect(big.requests[0]?.bytesWritten).toBeLessThan((300 * MB) / 900);
  }, 30_000);

  test.each<[string, (body: Buffer) => Buffer]>([
    ['gzip', gunzipSync],
    ['deflate', inflateSync],
    ['br', brotliDecompressSync],
    ['zstd', (body) => body],
  ])(
    'encoded %s: the normal searchset, compressed as its Content-Encoding says (an unknown one: as is)',
    async (encoding, decode) => {
      const obs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'ANC' } };
      const s = await start({ mode: 'encoded', encoding, resources: [obs] });
      const raw = await rawGet(`${s.baseUrl}/Observation?patient=p1`);
      expect(raw.encoding).toBe(encoding);
      expect(Number(raw.length)).toBe(raw.body.length);
      expect(JSON.parse(decode(raw.body).toString())).toMatchObject({
        resourceType: 'Bundle',
        entry: [{ resource: { id: 'o1' } }],
      });
    },
  );

  test('truncated: announces the whole body, sends half, then closes the connection', async () => {
    const obs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'ANC' } };
    const s = await start({ mode: 'truncated', resources: [obs] });
    const outcome = await new Promise<{ length: number; received: number; error: string }>((resolve) => {
      httpGet(`${s.baseUrl}/Observation?patient=p1`, (res) => {
        let received = 0;
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('error', (e) => resolve({ length: Number(res.headers['content-length']), received, error: e.message }));
        res.on('end', () => resolve({ length: Number(res.headers['content-length']), received, error: 'ended' }));
      });
    });
    expect(outcome.error).toBe('aborted');
    expect(outcome.received).toBe(Math.floor(outcome.length / 2));
  });
});

function rawGet(
  url: string,
): Promise<{ encoding: string | undefined; length: string | undefined; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          encoding: res.headers['content-encoding'],
          length: res.headers['content-length'],
          type: res.headers['content-type'],
          body: Buffer.concat(chunks),
        }),
      );
    }).on('error', reject);
  });
}
