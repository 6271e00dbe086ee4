/**
 * Cross-cutting HTTP middleware: request ids and the one "request served" log line,
 * CORS (cors), security headers (helmet), the admin token guard, and the one error handler,
 * registered last.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import corsMiddleware from 'cors';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { tooManyRequests } from '@medplum/core';
import { AssessmentInputError } from '../clinical/index.js';
import { AdminFailureLimiter } from './admin-limiter.js';
import {
  badRequest,
  forbidden,
  getStatus,
  internalError,
  notFound,
  OperationOutcomeError,
  OutcomeError,
  requestReadError,
  serviceUnavailable,
  unauthorized,
  withRequestId,
} from '../cds-hooks/outcomes.js';
import { routeOf } from '../cds-hooks/allow-only.js';
import { BusyError } from '../shared/budget.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** The client's X-Request-Id when it is a plain token of at most 64 characters, else a new UUID; echoed back. */
function requestId(req: Request, res: Response): string {
  const incoming = req.get('x-request-id');
  const id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/**
 * The fields of the "request served" line, chosen one by one: the route template (never the URL,
 * which may carry a patient id or a query), no header, no body.
 */
function servedFields(req: Request, res: Response, durationMs: number): Record<string, unknown> {
  const hookInstance = (res.locals as { hookInstance?: string }).hookInstance;
  return {
    reqId: req.id,
    method: req.method,
    route: routeOf(req),
    status: res.statusCode,
    durationMs,
    ...(hookInstance ? { hookInstance } : {}),
    ...(req.cdsClient ? { cdsClient: req.cdsClient.iss } : {}),
  };
}

/**
 * Assigns the request id (`req.id`, echoed in X-Request-Id), logs one line per request when it ends
 * ("request served", or "request aborted" when the connection closed first) and records the
 * Prometheus metrics of the requests served. Written here rather than with pino-http, which builds
 * two child loggers per request for the `req.log` nothing here uses: a tenth of a millisecond of every
 * CDS call (bench/patient-view.ts).
 */
export function requestLogging(log: Logger, metrics: HttpMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    req.id = requestId(req, res);
    const ended = (): void => {
      res.off('finish', ended);
      res.off('close', ended);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (res.writableFinished) {
        const route = routeOf(req);
        metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
        metrics.duration.observe({ method: req.method, route }, seconds);
      }
      const fields = servedFields(req, res, Math.round(seconds * 1e4) / 10);
      log.info(fields, res.writableFinished ? 'request served' : 'request aborted');
    };
    res.on('finish', ended);
    res.on('close', ended);
    next();
  };
}

/**
 * CORS for browser-based CDS clients and SMART apps (CDS Hooks 2.0 "Cross-Origin Resource Sharing").
 * A request with an allowed Origin gets `Access-Control-Allow-Origin` (`*`, or the origin with
 * `Vary: Origin`); one without an Origin, or with another one, gets no CORS header. Every OPTIONS
 * is answered 204, preflight or not, allowed origin or not.
 */
export function cors(allowedOrigins: string[]): RequestHandler {
  const any = allowedOrigins.includes('*');
  const handler = corsMiddleware({
    origin: (origin, callback) => {
      const allowed = origin !== undefined && (any || allowedOrigins.includes(origin));
      callback(null, allowed ? (any ? '*' : true) : false);
    },
    methods: 'GET, POST, OPTIONS',
    allowedHeaders: 'Authorization, Content-Type, X-Request-Id',
    exposedHeaders: 'X-Request-Id',
    maxAge: 600,
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    handler(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      // Reached only when `cors` let the request through: the origin is not allowed, or there is none.
      if (req.method === 'OPTIONS') {
        res.status(204).end();
        return;
      }
      next();
    });
  };
}

/**
 * Security headers of every response (helmet), plus `Cache-Control: no-store`: answers carry
 * patient data. Helmet's defaults that do not fit are off, each with its reason.
 */
export function securityHeaders(): RequestHandler {
  const headers = helmet({
    // JSON answers render nothing; the SMART pages set their own policy (src/http/smart-router.ts).
    contentSecurityPolicy: false,
    // Browser-based CDS clients and the EHR call from other origins; CORS decides, not CORP.
    crossOriginResourcePolicy: false,
    // fhirclient may complete the SMART launch in a popup that talks to its opener.
    crossOriginOpenerPolicy: false,
    // The SMART app loads nothing cross-origin, but an EHR embedding it must not need COEP itself.
    crossOriginEmbedderPolicy: false,
    // The SMART app is launched inside the EHR's iframe (another origin): SAMEORIGIN would block it.
    xFrameOptions: false,
    // HSTS belongs to the TLS terminator in front of the service (it may run over http in the
    // demo); includeSubDomains from here would bind every sibling host.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Cache-Control', 'no-store');
    headers(req, res, next);
  };
}

/**
 * Bearer-token guard for administrative endpoints; disabled (404) when no token is configured.
 * Failed attempts are throttled per client address (429 with Retry-After, see admin-limiter.ts).
 */
export function adminAuth(
  token: string | undefined,
  limiter: AdminFailureLimiter = new AdminFailureLimiter(),
  onFailure: (result: 'refused' | 'rate_limited') => void = () => undefined,
): RequestHandler {
  const expected = token ? Buffer.from(token) : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected) {
      next(notFound('Administrative endpoints are disabled (ADMIN_TOKEN is not set)'));
      return;
    }
    const address = req.ip ?? 'unknown';
    const wait = limiter.retryAfterSeconds(address);
    if (wait > 0) {
      onFailure('rate_limited');
      res.setHeader('Retry-After', String(wait));
      next(new OutcomeError(tooManyRequests));
      return;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const given = match?.[1] ? Buffer.from(match[1]) : undefined;
    if (!given) {
      limiter.fail(address);
      onFailure('refused');
      next(unauthorized('no admin token'));
      return;
    }
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      limiter.fail(address);
      onFailure('refused');
      next(forbidden('Invalid administrative token'));
      return;
    }
    next();
  };
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
    // Other calls hold the memory budget: this one may well fit in a second.
    if (err instanceof BusyError && !res.headersSent) res.setHeader('Retry-After', '1');
    if (!error) log.error({ reqId: req.id, err }, 'unhandled error'); // message and stack, never the request body
    const outcome = (error ?? internalError()).outcome;
    if (res.headersSent) return;
    const status = getStatus(outcome);
    if (status === 401) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer').end();
      return;
    }
    res
      .status(status)
      .type('application/fhir+json')
      .send(JSON.stringify(withRequestId(outcome, req.id)));
  };
}

/** The OperationOutcomeError `err` stands for; undefined for an unexpected error (a 500). */
function toOperationOutcomeError(err: unknown, req: Request, bodyLimit: string): OperationOutcomeError | undefined {
  if (err instanceof OperationOutcomeError) return err;
  // The engine's own message names the problem (two patients, no patient, a bad date).
  if (err instanceof AssessmentInputError) return badRequest(err.message, '(body)');
  if (err instanceof BusyError) return serviceUnavailable(err.message);
  return requestReadError(err, bodyLimit, req.get('content-type'));
}
