/**
 * Real servers for integration tests: the embedded demo FHIR server on an ephemeral port (with a
 * record of what it was asked), and small HTTP fakes for what cannot run here (a hostile FHIR
 * server, one that never answers).
 */
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import express from 'express';
import { DemoFhirServer, DEMO_FHIR_PATH } from '../../src/demo/fhir-server.js';
import { seedDemo } from '../../src/demo/demo-patients.js';

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
}

export interface TestFhirServer {
  baseUrl: string;
  fhir: DemoFhirServer;
  requests: RecordedRequest[];
  /** Most requests in flight at the same time. */
  maxConcurrent(): number;
  close(): Promise<void>;
}

let sharedDemo: Promise<DemoFhirServer> | undefined;

/** The demo FHIR server seeded with the demo patients as of `today` (seeded once per test file). */
export async function seededDemo(today = '2026-11-22'): Promise<DemoFhirServer> {
  sharedDemo ??= (async () => {
    const fhir = new DemoFhirServer();
    await seedDemo(fhir, today);
    return fhir;
  })();
  return sharedDemo;
}

/**
 * Serves `fhir` over HTTP on an ephemeral port under /demo/fhir, recording every request. `hangOn`:
 * requests whose URL it matches are never answered (until the server closes).
 */
export async function serveFhir(
  fhir: DemoFhirServer,
  options: {
    delayMs?: number;
    hangOn?: RegExp;
    /** Rewrites each answer's text (a server that answers differently from the demo's). */
    transform?: (url: string, text: string) => string;
  } = {},
): Promise<TestFhirServer> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const app = express();
  app.use((req, res, next) => {
    requests.push({ method: req.method, url: req.originalUrl, authorization: req.get('authorization') });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('finish', () => inFlight--);
    if (options.hangOn?.test(req.originalUrl)) return;
    const { transform } = options;
    if (transform) {
      const send = res.send.bind(res);
      res.send = ((body: unknown) =>
        send(typeof body === 'string' ? transform(req.originalUrl, body) : body)) as typeof res.send;
    }
    if (options.delayMs) setTimeout(next, options.delayMs);
    else next();
  });
  app.use(DEMO_FHIR_PATH, fhir.router('10mb'));
  const server = await listen(createServer(app));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}${DEMO_FHIR_PATH}`,
    fhir,
    requests,
    maxConcurrent: () => maxInFlight,
    close: () => closeServer(server),
  };
}

/** A plain HTTP server answering with `handler`, recording requests. */
export async function fakeServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = await listen(
    createServer((req, res) => {
      requests.push(req.url ?? '');
      handler(req, res);
    }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => closeServer(server),
  };
}

/** A server that accepts connections and never answers: the "unreachable FHIR server". */
export async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const server = await listen(createServer(() => undefined));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`, close: () => closeServer(server) };
}

/** Listens on an ephemeral port on 127.0.0.1. */
export async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Closes the server and every connection it still has. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
