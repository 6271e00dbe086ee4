/**
 * What each {@link HostileMode} of the hostile FHIR server (./hostile-fhir.ts) answers, and the
 * streaming that respects backpressure and stops when the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { HostileMode, HostileOptions, HostileRequest } from './hostile-fhir.js';
import {
  BUNDLE_OPEN,
  entryChunk,
  gzipBomb,
  HTML_502,
  HTML_LOGIN,
  patientReferenceJson,
  planHugeBundle,
} from './hostile-fhir-bodies.js';

export const FHIR_JSON = 'application/fhir+json';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path after the FHIR base, e.g. `Observation` or `Patient/p1`. */
  path: string;
  record: HostileRequest;
  options: HostileOptions;
  base: string;
  otherBase: string;
  bombs: Map<string, Buffer[]>;
}

/** Answers `mode`; the modes of ./hostile-fhir-odd.ts are answered there. */
export function respond(ctx: Ctx, mode: HostileMode): void {
  const { res, url, path, options } = ctx;
  const isRead = /^[A-Za-z]+\/[^/]+$/.test(path);
  const patient = patientOf(path, url);
  switch (mode) {
    case 'normal':
      return sendNormal(ctx, FHIR_JSON);
    case 'encoded':
    case 'truncated':
      return sendNormal(ctx, FHIR_JSON, mode);
    case 'wrong-content-type':
      return sendNormal(ctx, 'text/plain');
    case 'slow-headers': {
      const timer = setTimeout(() => sendNormal(ctx, FHIR_JSON), options.headerDelayMs ?? 5000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case 'endless':
      return void stream(ctx, FHIR_JSON, endlessChunks(patient));
    case 'huge': {
      const size = options.hugeBytes ?? 200 * 1024 * 1024;
      const chunks = hugeChunks(patient, size, options.hugeEntries);
      return void stream(ctx, FHIR_JSON, chunks, options.contentLength === false ? undefined : size);
    }
    case 'slow-body':
      return trickle(ctx, patient);
    case 'malformed-json':
      return send(
        ctx,
        200,
        FHIR_JSON,
        `${BUNDLE_OPEN}{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Observation","id":"trunc`,
      );
    case 'html-error':
      return send(ctx, 502, 'text/html', HTML_502);
    case 'html-login':
      return send(ctx, 200, 'text/html; charset=utf-8', HTML_LOGIN);
    case 'next-loop':
      return send(
        ctx,
        200,
        FHIR_JSON,
        JSON.stringify(
          searchset(ctx, [
            { relation: 'self', url: url.href },
            { relation: 'next', url: url.href },
          ]),
        ),
      );
    case 'next-cycle': {
      const other = new URL(url.href);
      other.searchParams.set('_page', url.searchParams.get('_page') === '2' ? '1' : '2');
      return send(
        ctx,
        200,
        FHIR_JSON,
        JSON.stringify(
          searchset(ctx, [
            { relation: 'self', url: url.href },
            { relation: 'next', url: other.href },
          ]),
        ),
      );
    }
    case 'redirect-other-origin':
    case 'redirect-same-origin': {
      const target =
        mode === 'redirect-other-origin'
          ? `${ctx.otherBase}/${path}${url.search}`
          : `${ctx.base}/_moved/${path}${url.search}`;
      res.writeHead(302, { location: target, 'content-length': '0' });
      res.end();
      return;
    }
    case 'not-fhir':
      return send(ctx, 200, FHIR_JSON, isRead ? '{"foo":1}' : '[]');
    case 'operation-outcome': {
      const bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: 0,
        entry: [
          {
            resource: outcome('processing', 'Search failed: the lab results backend timed out'),
            search: { mode: 'outcome' },
          },
        ],
      };
      return send(ctx, 200, FHIR_JSON, JSON.stringify(bundle));
    }
    case '404-with-id':
      return send(
        ctx,
        404,
        FHIR_JSON,
        JSON.stringify(outcome('not-found', `Resource Patient/${patient} is not known`)),
      );
    case 'gzip-bomb': {
      const size = options.bombBytes ?? 512 * 1024 * 1024;
      const key = `${patient}:${size}`;
      let members = ctx.bombs.get(key);
      if (!members) {
        members = gzipBomb(patientReferenceJson(patient), size).members;
        ctx.bombs.set(key, members);
      }
      return void stream(
        ctx,
        FHIR_JSON,
        members,
        members.reduce((n, m) => n + m.length, 0),
        { 'content-encoding': 'gzip' },
      );
    }
  }
}

/** The patient a request is about: `Patient/<id>` reads, else `patient`/`subject` search parameters. */
function patientOf(path: string, url: URL): string {
  const read = /^Patient\/([^/]+)$/.exec(path);
  if (read?.[1]) return decodeURIComponent(read[1]);
  const param = url.searchParams.get('patient') ?? url.searchParams.get('subject') ?? 'unknown';
  return param.replace(/^Patient\//, '');
}

function sendNormal(ctx: Ctx, contentType: string, how: 'plain' | 'encoded' | 'truncated' = 'plain'): void {
  const answer = how === 'plain' ? send : how === 'encoded' ? sendEncoded : sendTruncated;
  const [status, body] = normalAnswer(ctx);
  answer(ctx, status, contentType, JSON.stringify(body));
}

/** What `normal` answers: a read's resource (a Patient is always found) or 404, else the searchset. */
export function normalAnswer(ctx: Ctx): [number, object] {
  const read = /^([A-Za-z]+)\/([^/]+)$/.exec(ctx.path);
  if (read) {
    const [, type, id] = read;
    const found =
      (ctx.options.resources ?? []).find((r) => r.resourceType === type && r.id === id) ??
      (type === 'Patient' ? { resourceType: 'Patient', id } : undefined);
    return found ? [200, found] : [404, outcome('not-found', `${type ?? ''} not found`)];
  }
  return [200, searchset(ctx, [{ relation: 'self', url: ctx.url.href }])];
}

/** `body` compressed with options.encoding (default gzip); an encoding zlib does not know is sent as is. */
function sendEncoded(ctx: Ctx, status: number, contentType: string, body: string): void {
  const encoding = ctx.options.encoding ?? 'gzip';
  const bytes = compress(Buffer.from(body), encoding);
  ctx.res.writeHead(status, {
    'content-type': contentType,
    'content-encoding': encoding,
    'content-length': String(bytes.length),
  });
  ctx.res.end(bytes);
  ctx.record.bytesWritten += bytes.length;
}

/**
 * Announces the whole body's length, writes half of it, then closes the connection; compressed
 * first with options.encoding when given (gzip, deflate or br).
 */
function sendTruncated(ctx: Ctx, status: number, contentType: string, body: string): void {
  const encoding = ctx.options.encoding;
  const bytes = encoding ? compress(Buffer.from(body), encoding) : Buffer.from(body);
  ctx.res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(bytes.length),
    ...(encoding ? { 'content-encoding': encoding } : {}),
  });
  const half = bytes.subarray(0, Math.floor(bytes.length / 2));
  ctx.res.write(half, () => ctx.res.destroy());
  ctx.record.bytesWritten += half.length;
}

function compress(plain: Buffer, encoding: string): Buffer {
  if (encoding === 'gzip') return gzipSync(plain);
  if (encoding === 'deflate') return deflateSync(plain);
  if (encoding === 'br') return brotliCompressSync(plain);
  return plain;
}

function searchset(ctx: Ctx, link: { relation: string; url: string }[]): object {
  const type = ctx.path.split('/')[0] ?? '';
  const matches = (ctx.options.resources ?? []).filter((r) => r.resourceType === type);
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    link,
    entry: matches.map((r) => ({
      fullUrl: `${ctx.base}/${r.resourceType}/${r.id ?? ''}`,
      resource: r,
      search: { mode: 'match' },
    })),
  };
}

export function outcome(code: string, diagnostics: string): object {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

export function send(ctx: Ctx, status: number, contentType: string, body: string): void {
  sendBytes(ctx, status, contentType, Buffer.from(body));
}

export function sendBytes(ctx: Ctx, status: number, contentType: string, bytes: Buffer): void {
  ctx.res.writeHead(status, { 'content-type': contentType, 'content-length': String(bytes.length) });
  ctx.res.end(bytes);
  ctx.record.bytesWritten += bytes.length;
}

/**
 * Writes `chunks` as fast as the socket drains (waits for `drain` when `write` returns false) and
 * stops as soon as the response closes: a client that gives up stops the stream.
 */
async function stream(
  ctx: Ctx,
  contentType: string,
  chunks: Iterable<string | Buffer>,
  length?: number,
  headers: Record<string, string> = {},
): Promise<void> {
  const { res, record } = ctx;
  res.writeHead(200, {
    'content-type': contentType,
    ...(length === undefined ? {} : { 'content-length': String(length) }),
    ...headers,
  });
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  for (const chunk of chunks) {
    if (closed) return;
    const ok = res.write(chunk);
    record.bytesWritten += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (!ok)
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
  }
  if (!closed) res.end();
}

/** The Bundle head, then 1 MiB of distinct entries (as Buffers, generated once) over and over. */
function* endlessChunks(patient: string): Generator<string | Buffer> {
  const ref = patientReferenceJson(patient);
  const cycle: Buffer[] = [];
  for (let next = 1; cycle.length < 16;) {
    const chunk = entryChunk(ref, next);
    next = chunk.next;
    cycle.push(Buffer.from(chunk.text));
  }
  yield `${BUNDLE_OPEN}${entryChunk(ref, 0, 1).text}`;
  for (let i = 0; ; i++) yield cycle[i % cycle.length] as Buffer;
}

function* hugeChunks(patient: string, bytes: number, maxEntries?: number): Generator<string> {
  const ref = patientReferenceJson(patient);
  const plan = planHugeBundle(ref, bytes, maxEntries);
  yield plan.head;
  let next = 0;
  while (next < plan.entries) {
    const chunk = entryChunk(ref, next, undefined, plan.entries);
    next = chunk.next;
    yield chunk.text;
  }
  yield ' '.repeat(plan.padding) + plan.tail;
}

function trickle(ctx: Ctx, patient: string): void {
  const { res, record } = ctx;
  const ref = patientReferenceJson(patient);
  const first = `${BUNDLE_OPEN}${entryChunk(ref, 0, 1).text}`;
  const more = entryChunk(ref, 1, 1).text;
  res.writeHead(200, { 'content-type': FHIR_JSON });
  res.flushHeaders();
  let i = 0;
  const timer = setInterval(() => {
    // A valid Bundle prefix that never completes, one byte per tick.
    res.write((i < first.length ? first[i] : more[(i - first.length) % more.length]) ?? ' ');
    record.bytesWritten++;
    i++;
  }, ctx.options.trickleMs ?? 100);
  res.on('close', () => clearInterval(timer));
}
