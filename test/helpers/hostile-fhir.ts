/**
 * A hostile fake FHIR server for tests: a real node:http server on 127.0.0.1:0 that misbehaves the
 * way real EHR FHIR endpoints do (endless or huge bodies, trickles, HTML error pages, loops,
 * redirects, gzip bombs…), recording each request, its sockets and the bytes it wrote, so a test
 * can assert that the service under test gave up, closed the socket and stopped reading in time.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Resource } from 'fhir/r4.js';
import { FHIR_JSON, outcome, respond, send, type Ctx } from './hostile-fhir-modes.js';
import { isOddMode, respondOdd, type OddMode } from './hostile-fhir-odd.js';
import { closeServer, listen } from './servers.js';

export type HostileMode =
  | 'normal' // the given resources as one valid searchset page; `Patient/<id>` reads
  | 'endless' // a searchset that never ends, written as fast as the socket drains
  | 'huge' // one valid searchset of exactly `hugeBytes` bytes, streamed
  | 'slow-headers' // `normal`, after `headerDelayMs`
  | 'slow-body' // 200 headers at once, then 1 byte every `trickleMs`, forever
  | 'malformed-json' // 200 application/fhir+json, truncated JSON
  | 'html-error' // 502 text/html (nginx)
  | 'html-login' // 200 text/html login page (an SSO proxy in front of the API)
  | 'wrong-content-type' // `normal` bodies as text/plain
  | 'next-loop' // a searchset whose next link is itself
  | 'next-cycle' // two searchset pages whose next links point to each other
  | 'redirect-other-origin' // 302 to the same path on another origin (a second server)
  | 'redirect-same-origin' // 302 to `<base>/_moved/<path>`, served as `normal`
  | 'not-fhir' // valid JSON that is no resource: `[]` for searches, `{"foo":1}` for reads
  | 'operation-outcome' // 200 searchset whose only entry is an error OperationOutcome (search.mode outcome)
  | '404-with-id' // 404 OperationOutcome whose diagnostics echo the requested patient id
  | 'gzip-bomb' // Content-Encoding: gzip, ~1/1000 of `bombBytes` on the wire, inflating to `bombBytes`
  | 'encoded' // `normal`, compressed with `encoding` (an unknown one is sent as the plain body)
  | 'truncated' // `normal` (compressed with `encoding` if given) with its full Content-Length; the connection closes after half the body
  | OddMode; // ./hostile-fhir-odd.ts: outcome-200, outcome-200-information, patient-for-search, wrong-resource
//             (options.wrongResource), wrong-resource-in-bundle (200 not what was asked); entry-object, entry-null,
//             entry-nested (an entry that is no list of objects); entries-empty, entries-null-resource,
//             entries-fullurl-only (every entry without a resource); link-object, next-url-not-string,
//             outcome-issue-object, outcome-severity-uppercase (malformed paging or failure marker); bom-utf8, utf16, latin1, invalid-utf8 (`normal`, other bytes)

export interface HostileOptions {
  /** Behaviour for every request (default `normal`); change it later with `setMode`. */
  mode?: HostileMode;
  /** Per-path behaviour: first key that the path after the base starts with wins (`Patient/`, `Observation`). */
  paths?: Record<string, HostileMode>;
  /** Resources served by `normal` (and the modes built on it). */
  resources?: Resource[];
  /** `wrong-resource`, `wrong-resource-in-bundle`: the resource answered (default an Observation). */
  wrongResource?: Resource;
  /** `huge`: total body size in bytes (default 200 MB). */
  hugeBytes?: number;
  /** `huge`: at most this many entries, the rest whitespace (a server keeping to the `_count` asked for). */
  hugeEntries?: number;
  /** `huge`: send Content-Length (default true) or stream chunked. */
  contentLength?: boolean;
  /** `slow-headers`: delay before the status line (default 5000 ms). */
  headerDelayMs?: number;
  /** `slow-body`: interval between bytes (default 100 ms). */
  trickleMs?: number;
  /** `gzip-bomb`: inflated size in bytes (default 512 MB). */
  bombBytes?: number;
  /**
   * `encoded`: the Content-Encoding (default gzip); other than gzip, deflate or br, the body is sent
   * as is. `truncated`: compress with it before cutting (default: not compressed).
   */
  encoding?: string;
}

export interface HostileRequest {
  method: string;
  url: string;
  hasAuthorization: boolean;
  /** `main`, or `other` for the second origin that `redirect-other-origin` points to. */
  origin: 'main' | 'other';
  mode: HostileMode;
  /** Body bytes handed to the socket (compressed bytes for `gzip-bomb`). */
  bytesWritten: number;
  /** The response was completed by the server. */
  finished: boolean;
  /** The connection closed before the server completed the response (the client gave up, or `close()`). */
  closedByClient: boolean;
  /** Milliseconds from request arrival to the response closing, once it has. */
  closedAfterMs: number | undefined;
}

export interface HostileFhirServer {
  /** FHIR base, e.g. `http://127.0.0.1:41234/fhir`. */
  baseUrl: string;
  /** The other origin `redirect-other-origin` sends clients to (it serves `normal`). */
  otherOriginUrl: string;
  requests: HostileRequest[];
  /** Sockets currently open to the main server. */
  openSockets(): number;
  /** Body bytes written to all requests so far. */
  bytesWritten(): number;
  setMode(mode: HostileMode): void;
  /** Resolves once every request so far has closed; rejects after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a hostile FHIR server on 127.0.0.1:0. Close it in `afterAll`/`finally`. */
export async function hostileFhir(options: HostileOptions = {}): Promise<HostileFhirServer> {
  let mode: HostileMode = options.mode ?? 'normal';
  const requests: HostileRequest[] = [];
  const pending = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const bombs = new Map<string, Buffer[]>();
  const ports = { main: 0, other: 0 };

  const handler = (origin: 'main' | 'other') => (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${ports[origin]}`);
    const rel = url.pathname.startsWith('/fhir/') ? url.pathname.slice('/fhir/'.length) : undefined;
    const moved = rel?.startsWith('_moved/') ?? false;
    const path = moved ? (rel ?? '').slice('_moved/'.length) : rel;
    const chosen = origin === 'other' || moved ? 'normal' : modeFor(path ?? '');
    const record: HostileRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '',
      hasAuthorization: req.headers.authorization !== undefined,
      origin,
      mode: chosen,
      bytesWritten: 0,
      finished: false,
      closedByClient: false,
      closedAfterMs: undefined,
    };
    requests.push(record);
    const started = Date.now();
    pending.add(
      new Promise<void>((resolve) =>
        res.on('close', () => {
          record.finished = res.writableFinished;
          record.closedByClient = !res.writableFinished;
          record.closedAfterMs = Date.now() - started;
          resolve();
        }),
      ),
    );
    const ctx: Ctx = {
      req,
      res,
      url,
      path: path ?? '',
      record,
      options,
      base: `http://127.0.0.1:${ports[origin]}/fhir`,
      otherBase: `http://127.0.0.1:${ports.other}/fhir`,
      bombs,
    };
    if (path === undefined) send(ctx, 404, FHIR_JSON, JSON.stringify(outcome('not-found', 'Not a FHIR endpoint')));
    else if (isOddMode(chosen)) respondOdd(ctx, chosen);
    else respond(ctx, chosen);
  };

  const modeFor = (path: string): HostileMode => {
    for (const [prefix, m] of Object.entries(options.paths ?? {})) if (path.startsWith(prefix)) return m;
    return mode;
  };

  // 1 MiB socket buffers: streams run at ~200 MB/s instead of one 16 KiB buffer per drain.
  const main = await listen(createServer({ highWaterMark: 1024 * 1024 }, handler('main')));
  const other = await listen(createServer(handler('other')));
  ports.main = (main.address() as AddressInfo).port;
  ports.other = (other.address() as AddressInfo).port;
  main.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    baseUrl: `http://127.0.0.1:${ports.main}/fhir`,
    otherOriginUrl: `http://127.0.0.1:${ports.other}/fhir`,
    requests,
    openSockets: () => sockets.size,
    bytesWritten: () => requests.reduce((n, r) => n + r.bytesWritten, 0),
    setMode: (m) => {
      mode = m;
    },
    settled: async (timeoutMs = 5000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`hostile FHIR server: requests still open after ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([Promise.all([...pending]), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: async () => {
      await Promise.all([closeServer(main), closeServer(other)]);
    },
  };
}
