/**
 * The main-thread side of the demo FHIR server's worker thread (see fhir-worker.ts): starts the
 * worker, and forwards `/demo/fhir` requests to the loopback port the worker listens on, bytes
 * piped as they come (the service's event loop never parses or serialises a demo page).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Worker } from 'node:worker_threads';
import type { Resource } from 'fhir/r4.js';
import type { Request, RequestHandler, Response } from 'express';
import { operationOutcome } from '../cds-hooks/outcomes.js';

export interface DemoWorkerOptions {
  /** Reference date of the demo patients (infusion dates are relative to it). */
  today: string;
  bodyLimit: string;
  /** BODY_MAX_JSON_VALUES, for bodies posted to the demo server. */
  maxJsonValues?: number | undefined;
}

export interface DemoWorker {
  /** Resolves with the number of resources seeded, once the worker answers requests. */
  readonly seeded: Promise<number>;
  isSeeded(): boolean;
  /** One FHIR interaction over the worker's HTTP interface (paths relative to the FHIR base). */
  handle(method: string, url: string, body?: unknown): Promise<{ status: number; resource: Resource }>;
  /** Middleware forwarding every request to the worker (no express import: see server.ts). */
  proxy(): RequestHandler;
  close(): Promise<void>;
}

/** Messages the worker posts: its port once seeded, or why it could not start. */
export type DemoWorkerMessage =
  { kind: 'ready'; port: number; resources: number } | { kind: 'failed'; message: string };

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te']);

export function startDemoWorker(options: DemoWorkerOptions): DemoWorker {
  // Under tsx (development, benchmarks) the worker is the .ts source, loaded through tsx's loader
  // (registered in the worker: not every way of running tsx passes its loader on to workers).
  const fromSource = import.meta.url.endsWith('.ts');
  const script = new URL(fromSource ? './fhir-worker.ts' : './fhir-worker.js', import.meta.url);
  const worker = fromSource
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script.href)}); });`,
        { eval: true, workerData: options },
      )
    : new Worker(script, { workerData: options });
  worker.unref();
  let port = 0;
  const seeded = new Promise<number>((resolve, reject) => {
    worker.on('message', (message: DemoWorkerMessage) => {
      if (message.kind === 'ready') {
        port = message.port;
        resolve(message.resources);
      } else reject(new Error(`demo FHIR worker failed: ${message.message}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`demo FHIR worker exited (${code})`)));
  });
  seeded.catch(() => undefined); // reported by whoever awaits it (readiness, requests)

  const forward = (req: Request, res: Response): void => {
    const headers: IncomingHttpHeaders = { 'x-forwarded-proto': req.protocol };
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
    const upstream = httpRequest(
      { host: '127.0.0.1', port, method: req.method, path: req.originalUrl, headers },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers))
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) unavailable(res, 'the demo FHIR server did not answer');
      else res.destroy();
    });
    req.pipe(upstream);
  };

  let ready = false;
  seeded.then(
    () => (ready = true),
    () => undefined,
  );
  return {
    seeded,
    isSeeded: () => ready,
    handle: async (method, url, body) => {
      await seeded;
      const response = await fetch(`http://127.0.0.1:${port}/demo/fhir${url.startsWith('/') ? '' : '/'}${url}`, {
        method,
        headers: { 'content-type': 'application/fhir+json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, resource: (await response.json()) as Resource };
    },
    proxy: () => (req: Request, res: Response) => {
      seeded.then(
        () => forward(req, res),
        () => unavailable(res, 'the demo FHIR server could not start'),
      );
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

function unavailable(res: Response, diagnostics: string): void {
  res
    .status(503)
    .type('application/fhir+json')
    .send(JSON.stringify(operationOutcome([{ severity: 'error', code: 'transient', diagnostics }])));
}
