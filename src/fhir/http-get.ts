/**
 * One GET over node:http(s), for the gateway: status, headers, and the body decoded and read with
 * a byte cap. node:http costs the reader about 60 % of the CPU undici's fetch does on FHIR pages
 * (seven 680 kB pages read together: 21 against 35 ms of CPU, bench/no-prefetch.ts's data).
 *
 * What fetch did for us is done here, and nothing more: redirects are never followed (the caller
 * reports them), gzip, deflate and brotli bodies are decoded (decoded bytes are what the caps
 * count), any other content-encoding is refused, and the signal aborts the request at any point,
 * headers or body, closing its socket.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** An answer whose body is not read yet. */
export interface HttpAnswer {
  status: number;
  /** A response header (lower-case name); the first value when repeated. */
  header(name: string): string | undefined;
  /**
   * Reads the whole body, decoded. `take(bytes)` is told of every decoded chunk and returns an
   * error to stop reading with (the socket is then closed), or undefined to go on.
   */
  read(take: (bytes: number) => Error | undefined): Promise<Buffer>;
  /** Closes the connection without reading (or finishing) the body. */
  close(): void;
}

/** The body's content-encoding cannot be decoded; the message names it. */
export class UnsupportedEncodingError extends Error {}

/** Sent with every request: some hospital gateways refuse requests without one. */
const USER_AGENT = 'cart-hematotox-cds';

/** Encodings we ask for; `deflate` is also decoded when sent unasked. */
export const ACCEPT_ENCODING = 'gzip, br';

/**
 * Sends a GET and resolves once the status line and headers are in. Rejects with the signal's
 * reason when aborted, or with the network error. A kept-alive connection the server closed just
 * as it was reused is retried once on a new one (the request was never seen: a GET is safe to send
 * again), as Node's documentation advises for agents that keep connections alive.
 */
export function httpGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer> {
  return send(url, headers, signal).catch((error: unknown) => {
    if ((error as { retry?: boolean }).retry !== true || signal.aborted) throw error;
    return send(url, headers, signal);
  });
}

function send(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers: { ...headers, 'accept-encoding': ACCEPT_ENCODING, 'user-agent': USER_AGENT },
      // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn it off.
      rejectUnauthorized: true,
    });
    let answered = false;
    const fail = (error: Error): void => {
      signal.removeEventListener('abort', onAbort);
      if (answered) return;
      answered = true;
      reject(error);
    };
    const onAbort = (): void => {
      fail(signal.reason as Error);
      request.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // `on`, not `once`: an error after the headers (the body's reader sees it) must not go unhandled.
    request.on('error', (error: NodeJS.ErrnoException) => {
      const stale = request.reusedSocket && error.code === 'ECONNRESET';
      fail(stale ? Object.assign(error, { retry: true }) : error);
    });
    // A request can close with neither a response nor an error (an unasked-for 101 Switching Protocols).
    request.once('close', () => fail(new Error('the connection closed before a response')));
    request.once('response', (response) => {
      // From here the body's reader watches the signal (see read).
      signal.removeEventListener('abort', onAbort);
      if (answered) return;
      answered = true;
      resolve(answer(request.destroy.bind(request), response, signal));
    });
    request.end();
  });
}

function answer(destroy: (error?: Error) => void, response: IncomingMessage, signal: AbortSignal): HttpAnswer {
  const close = (): void => {
    destroy();
    response.destroy();
  };
  return {
    status: response.statusCode ?? 0,
    header: (name) => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    close,
    read: (take) => readBody(response, take, signal, close),
  };
}

/** The body as decoded bytes, or why it cannot be decoded. */
function decoded(response: IncomingMessage): Readable | UnsupportedEncodingError {
  const encoding = (response.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  // No body to decode (zlib would call an empty body a truncated one).
  const empty =
    response.statusCode === 204 || response.statusCode === 304 || response.headers['content-length'] === '0';
  if (empty) return response;
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'br'
        ? createBrotliDecompress()
        : encoding === 'deflate'
          ? createInflate()
          : undefined;
  if (decoder) {
    pipeline(response, decoder, () => undefined); // an error on either side destroys both; read sees it
    return decoder;
  }
  if (encoding === 'identity' || encoding === '') return response;
  // The server's text reaches the diagnostics only when it looks like an encoding name.
  const named = /^[\w.+-]{1,20}$/.test(encoding) ? `content-encoding ${encoding}` : 'an unknown content-encoding';
  return new UnsupportedEncodingError(`a body with ${named}`);
}

function readBody(
  response: IncomingMessage,
  take: (bytes: number) => Error | undefined,
  signal: AbortSignal,
  close: () => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = decoded(response);
    if (body instanceof UnsupportedEncodingError) {
      close();
      reject(body);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: Error | undefined): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (error) {
        close();
        body.destroy();
        reject(error);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onAbort = (): void => finish(signal.reason as Error);
    if (signal.aborted) return finish(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    body.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      chunks.push(chunk);
      const stop = take(chunk.length);
      if (stop) finish(stop);
    });
    body.on('error', (error) => finish(error));
    // A connection that breaks mid-body ends the response without completing it.
    body.once('end', () => finish(response.complete ? undefined : new Error('the response ended early')));
    body.once('close', () => finish(new Error('the connection closed mid-body'))); // no-op after end or error
  });
}
