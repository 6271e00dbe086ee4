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
import { decodeJsonText, jsonValuesOver, TextDecodingError } from '../fhir/json-text.js';
import { badRequest, tooManyJsonValues, unsupportedCharset, unsupportedMediaType } from './outcomes.js';

export const JSON_TYPES = ['application/json', 'application/fhir+json'];

/**
 * Parses JSON and FHIR+JSON bodies up to `limit` bytes and `maxValues` JSON values (see
 * jsonValuesOver); anything else is left unparsed (415 later).
 */
export function jsonBody(limit: string, maxValues: number): RequestHandler[] {
  /** The Buffer express.raw left in req.body, as the JSON value it holds (body-parser json's rules). */
  const parseJsonBuffer = (req: Request, _res: Response, next: NextFunction): void => {
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw)) return next();
    req.body = parseJson(raw, req.get('content-type'), maxValues);
    next();
  };
  return [express.raw({ limit, type: JSON_TYPES }), parseJsonBuffer];
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
  if (raw.length === 0) return {};
  let text: string;
  try {
    text = decodeJsonText(raw, contentType);
  } catch (error) {
    if (!(error instanceof TextDecodingError)) throw error;
    if (error.reason === 'charset') throw unsupportedCharset(error.charset);
    throw badRequest(`Request body has ${error.message}`, '(body)');
  }
  if (jsonValuesOver(text, maxValues)) throw tooManyJsonValues(maxValues);
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
