/**
 * A client that sends a request slowly is cut off at HTTP_REQUEST_TIMEOUT_MS (408, connection
 * closed), not held for Node's default 300 s; keep-alive and graceful shutdown still work. Real
 * sockets against the server startServer builds, with a 1 s bound.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { LogCapture } from '../helpers/app.js';

const REQUEST_TIMEOUT_MS = 1000;
/** Node checks the bound once a second (connectionsCheckingInterval): the cut comes within two. */
const CUT_WITHIN_MS = REQUEST_TIMEOUT_MS + 1000 + 500;
const SERVICE = '/cds-services/cart-hematotox-patient-view';

async function start(env: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    FEEDBACK_SQLITE_PATH: ':memory:',
    LOG_LEVEL: 'silent',
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    ...env,
  });
  return startServer(config, createLogger('silent', new LogCapture()));
}

interface RawClient {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the milliseconds from `since` when the server closes the connection. */
  closed: Promise<number>;
}

function rawClient(port: number, since: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, received: () => text, closed }));
    const closed = new Promise<number>((done) => socket.on('close', () => done(performance.now() - since)));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
  });
}

/** Sends the headers of a 100 kB POST, then one byte of body every 200 ms until the socket closes. */
function trickle(client: RawClient): void {
  client.socket.write(
    `POST ${SERVICE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
  );
  const timer = setInterval(() => client.socket.writable && client.socket.write(' '), 200);
  void client.closed.then(() => clearInterval(timer));
}

const waitFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function responseOn(client: RawClient, count: number): Promise<string> {
  const deadline = performance.now() + 5000;
  while (client.received().split('HTTP/1.1 ').length - 1 < count && performance.now() < deadline) await waitFor(20);
  return client.received();
}

describe('HTTP_REQUEST_TIMEOUT_MS', () => {
  let running: RunningServer;
  let port: number;
  beforeAll(async () => {
    running = await start();
    port = Number(new URL(running.baseUrl).port);
  }, 30_000);
  afterAll(async () => {
    await running?.close();
  }, 30_000);

  test('a body trickled slower than the bound is answered 408 and its connection closed', async () => {
    const started = performance.now();
    const client = await rawClient(port, started);
    trickle(client);
    const closedAfter = await client.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(closedAfter).toBeLessThan(CUT_WITHIN_MS);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  }, 30_000);

  test('an idle keep-alive connection is not cut by the bound: a second request on it is answered', async () => {
    const client = await rawClient(port, performance.now());
    const get = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n';
    client.socket.write(get);
    expect(await responseOn(client, 1)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"status":"ok"\}$/);
    await waitFor(REQUEST_TIMEOUT_MS + 1000); // past the bound, within keepAliveTimeout (5 s)
    client.socket.write(get);
    const both = await responseOn(client, 2);
    expect(both.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(2);
    client.socket.destroy();
  }, 30_000);
});

describe('graceful shutdown with a slow client', () => {
  // Node stops its timeout checks once the listener closes: during the drain a slow body is cut by
  // SHUTDOWN_TIMEOUT_MS (closeAllConnections), as before, and the process still exits in time.
  test('still ends within SHUTDOWN_TIMEOUT_MS while a body is trickling, the slow connection closed', async () => {
    const running = await start({ SHUTDOWN_TIMEOUT_MS: '1000' });
    const started = performance.now();
    const client = await rawClient(Number(new URL(running.baseUrl).port), started);
    trickle(client);
    await waitFor(200);
    await running.close();
    expect(performance.now() - started).toBeLessThan(1000 + 1000);
    expect(await client.closed).toBeLessThan(1000 + 1000);
  }, 30_000);
});
