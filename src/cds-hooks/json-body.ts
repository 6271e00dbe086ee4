/**
 * JSON request bodies (CDS Hooks requests and feedback, POST /assessments): parsed as JSON or
 * FHIR+JSON up to the configured limit, and required to be a JSON object.
 */
import type { Request, RequestHandler } from 'express';
import express from 'express';
import { badRequest, unsupportedMediaType } from './outcomes.js';

export const JSON_TYPES = ['application/json', 'application/fhir+json'];

/** Parses JSON and FHIR+JSON bodies up to `limit`; anything else is left unparsed (415 later). */
export function jsonBody(limit: string): RequestHandler {
  return express.json({ limit, type: JSON_TYPES, strict: true });
}

/** Rejects a POST whose body was not parsed as JSON (wrong or missing Content-Type). */
export function requireJsonBody(req: Request): Record<string, unknown> {
  if (!req.is(JSON_TYPES)) throw unsupportedMediaType(req.get('content-type'));
  const body: unknown = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('Request body must be a JSON object', '(body)');
  return body as Record<string, unknown>;
}
