/**
 * The FHIR reader's HTTP client (src/fhir/http-get.ts) against real servers on 127.0.0.1: kept-alive
 * connections that the server closes just as they are reused are retried once on a new connection;
 * a connection that fails when new is not retried.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, expect, test } from '@jest/globals';
import { httpGet } from '../../src/fhir/http-get.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
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
  server = createServer((req, res) => {
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
  server.on('connection', (socket: Socket) => numbers.set(socket, ++state.connections));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir/Patient/p1`);
  return state;
}

const read = async (url: URL): Promise<string> => {
  const answer = await httpGet(url, {}, new AbortController().signal);
  return (await answer.read(() => undefined)).toString('utf8');
};

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
