/**
 * A latency-injecting proxy in front of a FHIR server: every answer is held `delayMs`, and answers
 * are cached by URL after the first read, so repeated runs measure the caller's waits, not the
 * demo server's CPU. Records the URLs requested and how many were in flight at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LatencyProxy {
  url: string;
  requested: string[];
  peak: number;
  /** performance.now() when the last answer was sent. */
  lastAnswerAt: number;
  /** Bytes of the answers sent. */
  bytes: number;
  close(): Promise<void>;
}

export async function latencyProxy(upstream: string, delayMs: number): Promise<LatencyProxy> {
  const cache = new Map<string, Promise<{ status: number; type: string; body: Buffer }>>();
  const state = { requested: [] as string[], peak: 0, inFlight: 0, lastAnswerAt: 0, bytes: 0 };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.requested.push(path);
    state.inFlight++;
    state.peak = Math.max(state.peak, state.inFlight);
    let answer = cache.get(path);
    if (!answer) {
      // Paging links name the upstream; the proxy answers them under its own origin.
      answer = fetch(`${upstream}${path}`).then(async (r) => ({
        status: r.status,
        type: r.headers.get('content-type') ?? 'application/fhir+json',
        body: Buffer.from(
          (await r.text()).replaceAll(upstream, `http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        ),
      }));
      cache.set(path, answer);
    }
    const started = performance.now();
    void answer.then((a) => {
      setTimeout(
        () => {
          state.inFlight--;
          state.bytes += a.body.length;
          res
            .writeHead(a.status, { 'content-type': a.type })
            .end(a.body, () => (state.lastAnswerAt = performance.now()));
        },
        Math.max(0, delayMs - (performance.now() - started)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: LatencyProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requested() {
      return state.requested;
    },
    get peak() {
      return state.peak;
    },
    get lastAnswerAt() {
      return state.lastAnswerAt;
    },
    get bytes() {
      return state.bytes;
    },
    set bytes(n: number) {
      state.bytes = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return proxy;
}
