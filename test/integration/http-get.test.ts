/**
 * The FHIR reader's HTTP client (src/fhir/http-get.ts) against real servers on 127.0.0.1: kept-alive
 * connections that the server closes just as they are reused are retried once on a new connection;
 * a connection that fails when new is not retried.
 */
import { getEventListeners } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from '@jest/globals';
import { httpGet } from '../../src/fhir/http-get.js';

let server: Server | NetServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
  server = undefined;
});

/** A server whose `handle` decides per request: the request's number on its connection, and the connection's number. */
async function serve(handle: (onSocket: number, connection: number, socket: Socket) => 'answer' | 'drop'): Promise<{
  url: URL;
  requests: number;
  connections: number;
}> {
  const state = { url: new URL('http://127.0.0.1/'), requests: 0, connections: 0 };
  const perSocket = new WeakMap<Socket, number>();
  const numbers = new WeakMap<Socket, number>();
  const http = createServer((req, res) => {
    state.requests++;
    const socket = req.socket;
    const onSocket = (perSocket.get(socket) ?? 0) + 1;
    perSocket.set(socket, onSocket);
    if (handle(onSocket, numbers.get(socket) ?? 0, socket) === 'drop') {
      socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"Patient","id":"p1"}');
  });
  http.on('connection', (socket: Socket) => numbers.set(socket, ++state.connections));
  http.keepAliveTimeout = 60_000;
  server = http;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  state.url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/fhir/Patient/p1`);
  return state;
}

/** Reads `url`; no listener may stay on the signal afterwards, whatever the outcome. */
const read = async (url: URL, signal = new AbortController().signal): Promise<string> => {
  try {
    const answer = await httpGet(url, {}, signal);
    return (await answer.read(() => undefined)).toString('utf8');
  } finally {
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  }
};

/** A server that answers every request with `head` (status line and headers) and `body`, then ends. */
async function raw(head: Record<string, string>, status: number, body: Buffer): Promise<URL> {
  const seen: IncomingHttpHeaders[] = [];
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(status, head).end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  lastHeaders = seen;
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/Patient/p1`);
}
let lastHeaders: IncomingHttpHeaders[] = [];

test('a kept-alive connection closed by the server as it is reused: retried once on a new connection', async () => {
  const s = await serve((onSocket) => (onSocket >= 2 ? 'drop' : 'answer'));
  expect(await read(s.url)).toContain('"Patient"');
  expect(await read(s.url)).toContain('"Patient"');
  expect(s.connections).toBe(2);
  expect(s.requests).toBe(3); // the first, the one dropped on the reused connection, its retry
});

test('a new connection that fails is not retried: the error reaches the caller', async () => {
  const s = await serve(() => 'drop');
  await expect(read(s.url)).rejects.toThrow();
  expect(s.requests).toBe(1);
});

test('an unasked-for 101 Switching Protocols: rejected at once, not left waiting for the deadline', async () => {
  const net = createNetServer((socket) => {
    socket.on('data', () =>
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n'),
    );
    socket.on('error', () => undefined);
  });
  server = net;
  await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(net.address() as AddressInfo).port}/fhir/Patient/p1`);
  const started = Date.now();
  await expect(read(url)).rejects.toThrow();
  expect(Date.now() - started).toBeLessThan(1000);
});

test('aborted while waiting for the headers: rejected with the signal reason, no listener left', async () => {
  server = createServer(() => undefined); // never answers
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/Patient/p1`);
  const call = new AbortController();
  setTimeout(() => call.abort(new DOMException('deadline', 'TimeoutError')), 100);
  await expect(read(url, call.signal)).rejects.toMatchObject({ name: 'TimeoutError' });
});

test('every request names the client (user-agent) and asks for gzip or brotli', async () => {
  const url = await raw({ 'content-type': 'application/fhir+json' }, 200, Buffer.from('{"resourceType":"Patient"}'));
  expect(await read(url)).toBe('{"resourceType":"Patient"}');
  expect(lastHeaders[0]?.['user-agent']).toBe('cart-hematotox-cds');
  expect(lastHeaders[0]?.['accept-encoding']).toBe('gzip, br');
});

test('a gzip-encoded body is read decoded; an empty one (204) is empty, not a broken connection', async () => {
  const body = '{"resourceType":"Patient","id":"p1"}';
  expect(await read(await raw({ 'content-encoding': 'gzip' }, 200, gzipSync(body)))).toBe(body);
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  expect(await read(await raw({ 'content-encoding': 'gzip' }, 204, Buffer.alloc(0)))).toBe('');
});

test.each([
  ['zstd', 'a body with content-encoding zstd'],
  ['x y<b>', 'a body with an unknown content-encoding'],
])('content-encoding %j is refused, named only when it looks like an encoding name', async (encoding, message) => {
  const url = await raw({ 'content-encoding': encoding }, 200, Buffer.from('{}'));
  await expect(read(url)).rejects.toThrow(message);
});

describe('whatever a server answers, a read settles within its deadline and leaves nothing behind', () => {
  type Behaviour = {
    status: number;
    encoding: string | undefined;
    /** The body's bytes as sent (compressed when the encoding is one we decode and `compress` is set). */
    body: Uint8Array;
    compress: boolean;
    /** After how many body bytes the server closes the connection (undefined: sends it all). */
    cutAt: number | undefined;
    /** The server never ends the response. */
    stall: boolean;
    /** Announce the body's length (else chunked). */
    withLength: boolean;
  };
  const behaviour = fc.record({
    status: fc.constantFrom(200, 201, 204, 206, 301, 304, 404, 500),
    encoding: fc.option(fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'zstd', 'GZIP', 'gzip, br', ''), {
      nil: undefined,
    }),
    body: fc.uint8Array({ maxLength: 300_000 }),
    compress: fc.boolean(),
    cutAt: fc.option(fc.nat({ max: 300_000 }), { nil: undefined }),
    stall: fc.boolean(),
    withLength: fc.boolean(),
  });
  const encode = (b: Behaviour): Buffer => {
    const plain = Buffer.from(b.body);
    if (!b.compress) return plain;
    const e = b.encoding?.toLowerCase();
    return e === 'gzip'
      ? gzipSync(plain)
      : e === 'br'
        ? brotliCompressSync(plain)
        : e === 'deflate'
          ? deflateSync(plain)
          : plain;
  };

  test('property: settles (answer or named error) within the deadline (+ slack); at most one chunk past the cap; no listener left', async () => {
    let current: Behaviour | undefined;
    const http = createServer((_req, res) => {
      const b = current as Behaviour;
      const bytes = encode(b);
      const sent = b.cutAt === undefined ? bytes : bytes.subarray(0, b.cutAt);
      const headers: Record<string, string> = { 'content-type': 'application/fhir+json' };
      if (b.encoding !== undefined) headers['content-encoding'] = b.encoding;
      if (b.withLength) headers['content-length'] = String(bytes.length);
      res.writeHead(b.status, headers);
      if (b.status === 204 || b.status === 304) return void res.end();
      res.write(sent, () => {
        if (b.cutAt !== undefined) res.destroy();
        else if (!b.stall) res.end();
      });
    });
    server = http;
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/fhir/Observation`);
    const CAP = 100_000;
    await fc.assert(
      fc.asyncProperty(behaviour, async (b) => {
        current = b;
        const signal = AbortSignal.timeout(300);
        const started = Date.now();
        let size = 0;
        const outcome = await httpGet(url, {}, signal)
          .then((answer) =>
            answer.read((bytes) => {
              size += bytes;
              return size > CAP ? new Error('cap') : undefined;
            }),
          )
          .then(
            (body): { ok: true; bytes: number } | { ok: false; error: unknown } => ({ ok: true, bytes: body.length }),
            (error: unknown) => ({ ok: false as const, error }),
          );
        expect(Date.now() - started).toBeLessThan(300 + 1500); // the deadline, and slack for a loaded CI machine
        if (outcome.ok) expect(outcome.bytes).toBeLessThanOrEqual(CAP);
        // An Error from another realm (node's internals under jest) is no instanceof Error here: its message is.
        else expect(typeof (outcome.error as Error | undefined)?.message).toBe('string');
        expect(size).toBeLessThan(CAP + 1_048_576); // one decoded chunk past the cap at most
        expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      }),
      { numRuns: 80 },
    );
  }, 60_000);
});
