/**
 * Cross-cutting HTTP middleware: request ids and the one "request served" log line, CORS,
 * security headers, JSON body parsing, and the error handler that is registered last.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { HttpError, badRequest, forbidden, internalError, notFound, payloadTooLarge, unauthorized, unsupportedMediaType } from '../cds-hooks/outcomes.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests served', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** Route template of a request, e.g. `/cds-services/:id` (never the raw path with ids or queries). */
export function routeOf(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  if (typeof route === 'string') return `${req.baseUrl}${route}`;
  return req.baseUrl || 'unmatched';
}

/** Assigns a request id and logs one line per request when the response is finished. */
export function requestLogging(log: Logger, metrics: HttpMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req);
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.duration.observe({ method: req.method, route }, seconds);
      const hookInstance = (res.locals as { hookInstance?: string }).hookInstance;
      log.info(
        {
          reqId: req.id,
          method: req.method,
          route,
          status: res.statusCode,
          durationMs: Math.round(seconds * 1000 * 10) / 10,
          ...(hookInstance ? { hookInstance } : {}),
          ...(req.cdsClient ? { cdsClient: req.cdsClient.iss } : {}),
        },
        'request served',
      );
    });
    next();
  };
}

/** CORS for browser-based CDS clients and SMART apps (CDS Hooks 2.0 "Cross-Origin Resource Sharing"). */
export function cors(allowedOrigins: string[]): RequestHandler {
  const any = allowedOrigins.includes('*');
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (origin && (any || allowedOrigins.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
      if (!any) res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
      res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

export function securityHeaders(): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
}

export const JSON_TYPES = ['application/json', 'application/fhir+json'];

/** Parses JSON and FHIR+JSON bodies up to `limit`; anything else is left unparsed (415 later). */
export function jsonBody(limit: string): RequestHandler {
  return express.json({ limit, type: JSON_TYPES, strict: true });
}

/** Rejects a POST whose body was not parsed as JSON (wrong or missing Content-Type). */
export function requireJsonBody(req: Request): Record<string, unknown> {
  if (!req.is(JSON_TYPES)) throw unsupportedMediaType(req.get('content-type'));
  const body: unknown = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object', '(body)');
  return body as Record<string, unknown>;
}

/** Bearer-token guard for administrative endpoints; disabled (404) when no token is configured. */
export function adminAuth(token: string | undefined): RequestHandler {
  const expected = token ? Buffer.from(token) : undefined;
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!expected) {
      next(notFound('Administrative endpoints are disabled (ADMIN_TOKEN is not set)'));
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const given = match?.[1] ? Buffer.from(match[1]) : undefined;
    if (!given) {
      next(unauthorized('no admin token'));
      return;
    }
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      next(forbidden('Invalid administrative token'));
      return;
    }
    next();
  };
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** The error handler, registered last: HttpError → its status and OperationOutcome; never a stack. */
export function errorHandler(log: Logger, bodyLimit: string): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let error: HttpError;
    const parserError = err as BodyParserError;
    if (err instanceof HttpError) error = err;
    else if (parserError?.type === 'entity.too.large') error = payloadTooLarge(bodyLimit);
    else if (parserError?.type === 'entity.parse.failed') error = badRequest('Request body is not valid JSON', '(body)');
    else if (parserError?.type === 'encoding.unsupported' || parserError?.type === 'charset.unsupported') {
      error = unsupportedMediaType(req.get('content-type'));
    } else if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
      error = badRequest('Malformed request');
    } else {
      // Log the error itself (message, stack), never the request body.
      log.error({ reqId: req.id, err }, 'unhandled error');
      error = internalError();
    }
    if (res.headersSent) return;
    if (error.status === 401) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer').end();
      return;
    }
    res.status(error.status);
    if (error.outcome) res.type('application/fhir+json').send(JSON.stringify(error.outcome));
    else res.end();
  };
}
