/**
 * The embedded demo FHIR R4 server, exposed over HTTP under {@link DEMO_FHIR_PATH} on the
 * service's own port.
 *
 * Medplum's FhirRouter over its in-memory repository does the FHIR work (medplum-engine.ts, loaded
 * on first use: Medplum is a demo-only package). This adapter adds what the in-memory repository
 * does not: a CapabilityStatement at /metadata, `patient=<id>` searches with a bare id, `POST
 * [type]/_search` with a form body, a default page size, and `self`/`next`/`previous` links so
 * clients can page.
 *
 * The service runs it in a worker thread ({@link DemoFhirServer.inWorker}, fhir-worker.ts): a
 * 1,000-entry search page costs the in-memory repository hundreds of milliseconds of CPU, which
 * must not stall CDS calls on the service's event loop.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express, { Router } from 'express';
import type { HttpMethod } from '@medplum/fhir-router';
import type { ErrorRequestHandler } from 'express';
import {
  badRequest,
  getStatus,
  internalError,
  OperationOutcomeError,
  OutcomeError,
  operationOutcome,
  payloadTooLarge,
  requestReadError,
  unsupportedMediaType,
} from '../cds-hooks/outcomes.js';
import { jsonBody } from '../cds-hooks/json-body.js';
import { capabilityStatement } from './capability.js';
import type { MedplumEngine } from './medplum-engine.js';
import type { DemoWorker, DemoWorkerOptions } from './fhir-worker-host.js';

export const DEMO_FHIR_PATH = '/demo/fhir';
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

const FORM_TYPE = 'application/x-www-form-urlencoded';
const JSON_TYPES = ['application/json', 'application/fhir+json'];
/**
 * Deepest JSON body handed to the engine: Medplum walks resources recursively, and a Bundle nested
 * 100,000 levels deep overflowed its stack (answered with the engine's "Maximum call stack size
 * exceeded"). Real resources nest a few dozen levels at most (the CDS service's own cap on draft
 * orders is 64 too).
 */
export const MAX_BODY_DEPTH = 64;
/** Methods whose interaction needs a resource in the body. */
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
const RESOURCE_TYPE = /^[A-Z][A-Za-z]+$/;

export class DemoFhirServer {
  private engine: Promise<MedplumEngine> | undefined;

  /** `worker`: the server runs in that worker thread and this object forwards to it (see inWorker). */
  constructor(private readonly worker?: DemoWorker) {}

  /**
   * A demo server in a worker thread, seeded there with the demo patients as of `today`. Returns at
   * once: requests wait until the worker is seeded; `worker.seeded` says when.
   */
  static async inWorker(options: DemoWorkerOptions): Promise<DemoFhirServer> {
    const { startDemoWorker } = await import('./fhir-worker-host.js');
    return new DemoFhirServer(startDemoWorker(options));
  }

  /** The worker this server runs in, if any (readiness, shutdown). */
  get thread(): DemoWorker | undefined {
    return this.worker;
  }

  /** Runs one FHIR interaction against the in-memory store (used by HTTP and by seeding). */
  async handle(method: HttpMethod, url: string, body?: unknown): Promise<{ status: number; resource: Resource }> {
    if (this.worker) return this.worker.handle(method, url, body);
    this.engine ??= import('./medplum-engine.js').then((m) => new m.MedplumEngine());
    return (await this.engine).handle(method, url, body);
  }

  /** Loads a transaction or batch Bundle; throws when any entry fails. */
  async load(bundle: Bundle): Promise<Bundle> {
    if (!this.worker) {
      this.engine ??= import('./medplum-engine.js').then((m) => new m.MedplumEngine());
      const stored = await (await this.engine).putAll(bundle);
      if (stored) return stored;
    }
    const { status, resource } = await this.handle('POST', '/', bundle);
    if (status >= 400) throw new Error(`demo FHIR load failed: ${JSON.stringify(resource).slice(0, 500)}`);
    const response = resource as Bundle;
    const failed = response.entry?.find((e) => !e.response?.status?.startsWith('2'));
    if (failed) throw new Error(`demo FHIR load failed: entry answered ${failed.response?.status ?? 'no status'}`);
    return response;
  }

  /** Express router serving this server under `DEMO_FHIR_PATH` (in worker mode: forwarding to the worker). */
  router(bodyLimit: string, maxJsonValues = Infinity): Router | RequestHandler {
    if (this.worker) return this.worker.proxy();
    const router = Router();
    // Before the JSON parser: a search body is a form, whatever Content-Type the client claims.
    router.post('/:type/_search', this.postSearch(bodyLimit));
    // The service's own body rules (BODY_LIMIT, BODY_MAX_JSON_VALUES): 15 MB of `{},` posted here
    // took the process to 707 MB and the demo worker down.
    router.use(jsonBody(bodyLimit, maxJsonValues));
    router.get('/metadata', (req: Request, res: Response) => {
      sendFhir(res, 200, capabilityStatement(baseUrlOf(req)));
    });
    router.all('/{*path}', async (req: Request, res: Response) => {
      const method = req.method.toUpperCase() as HttpMethod;
      const path = req.path;
      const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
      if (method === 'GET' && /^\/[A-Z][A-Za-z]+\/?$/.test(path)) {
        await this.search(req, res, path.replace(/\/$/, ''), query);
        return;
      }
      checkBody(req);
      const { status, resource } = await this.handle(method, `${path}?${query.toString()}`, req.body);
      sendFhir(res, status, resource);
    });
    router.use(demoErrors(bodyLimit));
    return router;
  }

  /** `GET [type]?params`: one page of matches, with `self`/`next`/`previous` links. */
  private async search(req: Request, res: Response, path: string, query: URLSearchParams): Promise<void> {
    applyPaging(query);
    const { status, resource } = await this.handle('GET', `${path}?${query.toString()}`);
    if (resource.resourceType === 'Bundle') addPagingLinks(resource as Bundle, baseUrlOf(req), path, query);
    sendFhir(res, status, resource);
  }

  /**
   * `POST [type]/_search` (FHIR R4 http.html#search): the parameters of the URL and of the
   * `application/x-www-form-urlencoded` body together, answered exactly as `GET [type]?params`.
   * Paging links are GET URLs carrying those combined parameters (search.html#selflink: self and
   * paging links are expressed as GET-based searches, whatever method the search came in with).
   */
  private postSearch(bodyLimit: string): (req: Request, res: Response, next: NextFunction) => void {
    const readForm = express.text({ type: FORM_TYPE, limit: bodyLimit, defaultCharset: 'utf-8' });
    return (req, res, next) => {
      const type = String(req.params['type']);
      if (!RESOURCE_TYPE.test(type)) {
        next();
        return;
      }
      if (!req.is(FORM_TYPE) && hasBody(req)) {
        sendOutcome(res, unsupportedSearchBody(req.get('content-type')));
        return;
      }
      readForm(req, res, (err?: unknown) => {
        if (err) {
          sendOutcome(res, bodyError(err, bodyLimit, req.get('content-type')));
          return;
        }
        const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
        try {
          for (const [name, value] of parseForm(typeof req.body === 'string' ? req.body : ''))
            query.append(name, value);
        } catch (error) {
          sendOutcome(
            res,
            error instanceof OperationOutcomeError ? error : badRequest('Malformed form body', '(body)'),
          );
          return;
        }
        this.search(req, res, `/${type}`, query).catch(next);
      });
    };
  }
}

/**
 * A POST, PUT or PATCH must carry a JSON body (else the engine answers with its own TypeError), and
 * no body may nest deeper than MAX_BODY_DEPTH.
 */
function checkBody(req: Request): void {
  const body: unknown = req.body;
  if (WITH_BODY.has(req.method) && (body === undefined || !req.is(JSON_TYPES)))
    throw unsupportedMediaType(req.get('content-type'));
  if (nestedDeeperThan(body, MAX_BODY_DEPTH))
    throw badRequest(`Request body is nested deeper than ${MAX_BODY_DEPTH} levels`, '(body)');
}

/** Whether `value` has arrays or objects nested more than `max` levels; iterative, so any depth is safe. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Errors of the demo router as OperationOutcomes: body-parser's and express's with the service's
 * messages, an OperationOutcomeError as thrown, anything else a bare 500. Without it express's
 * default handler answered HTML with the error's stack (a body that is not JSON, a path that does
 * not decode).
 */
function demoErrors(bodyLimit: string): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const outcome =
      err instanceof OperationOutcomeError ? err : requestReadError(err, bodyLimit, req.get('content-type'));
    sendOutcome(res, outcome ?? internalError());
  };
}

/** Whether the request carries a body at all (a body-less POST _search means "no filters"). */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Strict `application/x-www-form-urlencoded` parsing: URLSearchParams silently keeps broken
 * escapes (`%zz`) and nameless pairs, which would turn a garbled search into a broader one.
 */
function parseForm(body: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const part of body.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const [rawName, rawValue] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' '));
      value = decodeURIComponent(rawValue.replaceAll('+', ' '));
    } catch {
      throw badRequest('Form body has an invalid percent-encoding', '(body)');
    }
    if (name.trim() === '') throw badRequest('Form body has a parameter without a name', '(body)');
    pairs.push([name, value]);
  }
  return pairs;
}

/** 415: issue code `not-supported` (see getStatus). */
function unsupportedSearchBody(contentType: string | undefined): OperationOutcomeError {
  const diagnostics = `POST _search takes an ${FORM_TYPE} body, got ${contentType ?? 'none'}`;
  return new OutcomeError(operationOutcome([{ severity: 'error', code: 'not-supported', diagnostics }]));
}

/** Maps a body-parser failure (too large, unknown charset, aborted) to its OperationOutcome. */
function bodyError(err: unknown, bodyLimit: string, contentType: string | undefined): OperationOutcomeError {
  const { type } = err as { type?: string };
  if (type === 'entity.too.large') return payloadTooLarge(bodyLimit);
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') return unsupportedSearchBody(contentType);
  return badRequest('Malformed form body', '(body)');
}

/** Answers with the error's outcome and the status that outcome stands for (getStatus). */
function sendOutcome(res: Response, error: OperationOutcomeError): void {
  res.status(getStatus(error.outcome)).type('application/fhir+json').send(JSON.stringify(error.outcome));
}

function baseUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

function sendFhir(res: Response, status: number, resource: Resource): void {
  res.status(status).type('application/fhir+json').send(JSON.stringify(resource));
}

function applyPaging(query: URLSearchParams): void {
  const count = Number(query.get('_count') ?? DEFAULT_PAGE_SIZE);
  query.set(
    '_count',
    String(Number.isFinite(count) && count > 0 ? Math.min(Math.trunc(count), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE),
  );
  const offset = Number(query.get('_offset') ?? 0);
  query.set('_offset', String(Number.isFinite(offset) && offset > 0 ? Math.trunc(offset) : 0));
}

function addPagingLinks(bundle: Bundle, base: string, path: string, query: URLSearchParams): void {
  const count = Number(query.get('_count'));
  const offset = Number(query.get('_offset'));
  const total = bundle.total ?? 0;
  const link = (o: number): string => {
    const q = new URLSearchParams(query);
    q.set('_offset', String(o));
    return `${base}${path}?${q.toString()}`;
  };
  bundle.link = [{ relation: 'self', url: link(offset) }];
  if (offset + count < total) bundle.link.push({ relation: 'next', url: link(offset + count) });
  if (offset > 0) bundle.link.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.id) {
      entry.fullUrl = `${base}/${entry.resource.resourceType}/${entry.resource.id}`;
      entry.search = { mode: 'match' };
    }
  }
}
