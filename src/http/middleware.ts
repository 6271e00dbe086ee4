/**
 * Cross-cutting HTTP middleware: request ids and the one "request served" log line, CORS,
 * security headers, the admin token guard, and the one error handler, registered last.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { AssessmentInputError } from '../clinical/index.js';
import {
  badRequest,
  forbidden,
  getStatus,
  internalError,
  notFound,
  OperationOutcomeError,
  payloadTooLarge,
  unauthorized,
  unsupportedMediaType,
  withRequestId,
} from '../cds-hooks/outcomes.js';

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

/**
 * The one error handler, registered last. Every error becomes an OperationOutcomeError, answered
 * with getStatus(outcome) and the outcome carrying the request id: OperationOutcomeError as
 * thrown; body-parser failures (413, 400, 415); the engine's input errors (AssessmentInputError,
 * 400) wherever assess() ran; anything else a logged 500 that never shows a stack. A 401 is bare:
 * no body, `WWW-Authenticate: Bearer`.
 */
export function errorHandler(log: Logger, bodyLimit: string): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toOperationOutcomeError(err, req, bodyLimit);
    if (!error) log.error({ reqId: req.id, err }, 'unhandled error'); // message and stack, never the request body
    const outcome = (error ?? internalError()).outcome;
    if (res.headersSent) return;
    const status = getStatus(outcome);
    if (status === 401) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer').end();
      return;
    }
    res.status(status).type('application/fhir+json').send(JSON.stringify(withRequestId(outcome, req.id)));
  };
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** The OperationOutcomeError `err` stands for; undefined for an unexpected error (a 500). */
function toOperationOutcomeError(err: unknown, req: Request, bodyLimit: string): OperationOutcomeError | undefined {
  if (err instanceof OperationOutcomeError) return err;
  // The engine's own message names the problem (two patients, no patient, a bad date).
  if (err instanceof AssessmentInputError) return badRequest(err.message, '(body)');
  const parserError = err as BodyParserError | undefined;
  switch (parserError?.type) {
    case 'entity.too.large':
      return payloadTooLarge(bodyLimit);
    case 'entity.parse.failed':
      return badRequest('Request body is not valid JSON', '(body)');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return unsupportedMediaType(req.get('content-type'));
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) return badRequest('Malformed request');
  return undefined;
}
