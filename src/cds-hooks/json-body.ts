/**
 * JSON request bodies (CDS Hooks requests and feedback, POST /assessments): parsed as JSON or
 * FHIR+JSON up to the configured limit, and required to be a JSON object.
 *
 * body-parser reads the bytes (limit, Content-Length, gzip/deflate, aborted requests) as a Buffer;
 * the text is then decoded once and parsed here. body-parser's own JSON parser decodes chunk by
 * chunk into a string that JSON.parse must copy again before parsing: a second copy of every
 * request, a sixth of the memory a 500-Observation call allocated.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { decodeJsonText, jsonValueCount, TextDecodingError } from '../fhir/json-text.js';
import type { Lease, Budget } from '../shared/budget.js';
import { clientGone, onCallEnd } from './call-end.js';
import {
  badRequest,
  serviceUnavailable,
  tooManyJsonValues,
  unsupportedCharset,
  unsupportedMediaType,
} from './outcomes.js';

export const JSON_TYPES = ['application/json', 'application/fhir+json'];

/** The process's memory budgets a body takes room in (src/shared/budget.ts). */
export interface BodyRoom {
  /** MAX_BODY_BYTES_IN_FLIGHT: taken before the body is read, given back once it is parsed. */
  bytes: Budget;
  /** MAX_JSON_VALUES_IN_FLIGHT: taken before it is parsed. */
  values: Budget;
  /** BODY_LIMIT in bytes: the room of a body whose length is not known before it is read. */
  limitBytes: number;
}

/** Room a call's body holds: its bytes until it is parsed, its JSON values (an upper bound) until the call is answered. */
const bodyLeases = new WeakMap<Request, { bytes?: Lease; values?: Lease }>();

/** The JSON values the call's body holds room for (0 without a budget): its fhirServer answers get the rest of BODY_MAX_JSON_VALUES. */
export function bodyValuesOf(req: Request): number {
  return bodyLeases.get(req)?.values?.weight ?? 0;
}

/**
 * Parses JSON and FHIR+JSON bodies up to `limit` bytes and `maxValues` JSON values (see
 * jsonValueCount); anything else is left unparsed (415 later). With `room`, a body is read only once
 * the process has room for its bytes (it waits in the network meanwhile), and parsed only once it
 * has room for its values (held as bytes meanwhile). The bytes are given back once the body is
 * parsed, the values when the call ends (call-end.ts). A body's values are counted when it is longer
 * than a quarter of `maxValues` or must wait for room, and bounded by its length otherwise.
 */
export function jsonBody(limit: string, maxValues: number, room?: BodyRoom): RequestHandler[] {
  /**
   * Room for the bytes of a JSON body, taken whole before it is read: its Content-Length, or
   * BODY_LIMIT when it has none or is compressed (it inflates within BODY_LIMIT). A body that finds
   * none waits in the network, not in memory. Whole, not chunk by chunk as the bytes arrive: bodies
   * each holding part of the room and waiting for the rest would hold it all and none would finish
   * (five 13 MB bodies at once: all five refused). A sender that trickles holds what it declared
   * until HTTP_REQUEST_TIMEOUT_MS; an ingress that buffers request bodies (ingress-nginx does by
   * default) sends each body whole, and with its length.
   */
  const roomForBytes = (req: Request, res: Response, next: NextFunction): void => {
    if (!room || !req.is(JSON_TYPES)) return next();
    const declared = Number(req.get('content-length'));
    const encoded = (req.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
    // Over BODY_LIMIT: express.raw refuses it (413) and holds none of it.
    if (!encoded && declared > room.limitBytes) return next();
    const bytes = !encoded && Number.isFinite(declared) ? declared : room.limitBytes;
    const held = (lease: Lease): void => {
      bodyLeases.set(req, { bytes: lease });
      onCallEnd(req, res, lease.release);
    };
    const now = room.bytes.tryAcquire(bytes);
    if (now) {
      held(now); // no await on the way of a call that fits
      return next();
    }
    waitForRoom(room.bytes, bytes, req, res).then((lease) => {
      held(lease);
      next();
    }, next);
  };
  /** The Buffer express.raw left in req.body, as the JSON value it holds (body-parser json's rules). */
  const parseJsonBuffer = (req: Request, res: Response, next: NextFunction): void => {
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw)) return next();
    const type = req.get('content-type');
    const text = decodedText(raw, type);
    const values = valueBound(text, maxValues);
    const leases = bodyLeases.get(req) ?? {};
    const parse = (body: string, lease: Lease | undefined): void => {
      if (lease) {
        leases.values = lease;
        bodyLeases.set(req, leases);
        onCallEnd(req, res, lease.release);
      }
      req.body = parsedJson(body);
      leases.bytes?.release(); // the bytes are garbage now; the values hold the room of what was parsed
      next();
    };
    const now = room && text.length > 0 ? room.values.tryAcquire(values) : undefined;
    if (!room || text.length === 0 || now) return parse(text, now);
    // Waiting, the body is held as its bytes only: the text is decoded again once there is room.
    const exact = values < text.length ? values : jsonValueCount(text, maxValues);
    waitForRoom(room.values, exact, req, res).then((lease) => {
      try {
        parse(decodedText(raw, type), lease);
      } catch (error) {
        next(error);
      }
    }, next);
  };
  return [roomForBytes, express.raw({ limit, type: JSON_TYPES }), parseJsonBuffer];
}

/** A lease for a body that did not fit at once, waited for (the client gone: a 503 nobody reads). */
async function waitForRoom(budget: Budget, weight: number, req: Request, res: Response): Promise<Lease> {
  if (clientGone(req, res)) throw serviceUnavailable('the client went away while the call waited for room');
  const gone = new AbortController();
  const cancel = onCallEnd(req, res, () => gone.abort(new Error('the client went away')));
  try {
    return await budget.acquire(weight, gone.signal);
  } catch (error) {
    // Nobody to answer: not an error of the service (BusyError, a 503 with Retry-After, goes on).
    if (gone.signal.aborted) throw serviceUnavailable('the client went away while the call waited for room');
    throw error;
  } finally {
    cancel();
  }
}

/**
 * UTF-8 (RFC 8259 §8.1), or UTF-16 when the charset says so; a byte order mark is skipped
 * (decodeJsonText, the rule FHIR responses are read by too). Another charset is a 415, bytes not
 * valid in their encoding a 400. An empty body is an empty object, and only an object or array is
 * taken ("strict", as body-parser's JSON parser had it): a bare value (`null`, `12`) is a 400 that
 * says a JSON object is needed, malformed text a 400 that says it is not JSON. Text holding more than
 * `maxValues` JSON values is a 413, before it is parsed: parsing is what would take the memory.
 */
export function parseJson(raw: Buffer, contentType: string | undefined, maxValues = Infinity): unknown {
  const text = decodedText(raw, contentType);
  valueBound(text, maxValues);
  return parsedJson(text);
}

/** A body's text (empty for an empty body); a 415 for another charset, a 400 for bytes not valid in theirs. */
function decodedText(raw: Buffer, contentType: string | undefined): string {
  if (raw.length === 0) return '';
  try {
    return decodeJsonText(raw, contentType);
  } catch (error) {
    if (!(error instanceof TextDecodingError)) throw error;
    if (error.reason === 'charset') throw unsupportedCharset(error.charset);
    throw badRequest(`Request body has ${error.message}`, '(body)');
  }
}

/**
 * Bodies longer than this part of BODY_MAX_JSON_VALUES are counted, not bounded by their length:
 * the room a body holds is taken from its call's answers (BODY_MAX_JSON_VALUES bounds both
 * together), and a partial prefetch of 1.2 MB (a few hundred values) left its fhirServer reads
 * 0.3 M values and a 412. Counting costs about 1 ms per MB; a 500-Observation body (0.3 MB) is
 * under it.
 */
const EXACT_FROM = 4;

/**
 * A bound on a text's JSON values: its length, or its count when it was counted (text longer than
 * a quarter of `maxValues`); a 413 when it holds more than `maxValues`.
 */
function valueBound(text: string, maxValues: number): number {
  if (text.length <= maxValues / EXACT_FROM) return text.length;
  const values = jsonValueCount(text, maxValues);
  if (values > maxValues) throw tooManyJsonValues(maxValues);
  return values;
}

/** The value of a body's text (see parseJson): an empty body is an empty object. */
function parsedJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = firstNonSpace(text, 0);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw badRequest('Request body is not valid JSON', '(body)');
  }
  // Valid JSON, but a bare value (null, 12, "text", true): said as what it is, not as broken JSON.
  if (first !== '{' && first !== '[') throw badRequest('Request body must be a JSON object', '(body)');
  return value;
}

/** JSON's whitespace (RFC 8259 §2): space, tab, line feed, carriage return. */
function firstNonSpace(text: string, from: number): string | undefined {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return text[i];
  }
  return undefined;
}

/** Rejects a POST whose body was not parsed as JSON (wrong or missing Content-Type). */
export function requireJsonBody(req: Request): Record<string, unknown> {
  if (!req.is(JSON_TYPES)) throw unsupportedMediaType(req.get('content-type'));
  const body: unknown = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('Request body must be a JSON object', '(body)');
  return body as Record<string, unknown>;
}
