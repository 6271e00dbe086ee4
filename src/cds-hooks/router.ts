/**
 * The CDS Hooks endpoints: discovery, service calls and feedback.
 *
 * The router validates at the edge (zod), resolves prefetch, calls the service's handler, checks
 * the response against the spec's schema and answers. Handlers never touch `res`.
 */
import type { Request, Response } from 'express';
import { setMaxListeners } from 'node:events';
import { Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { cardKind } from '../shared/card-kind.js';
import type { Budget } from '../shared/budget.js';
import { bodyValuesOf, requireJsonBody } from './json-body.js';
import { onCallEnd } from './call-end.js';
import { badRequest, badRequestFromZod, notFound, serviceUnavailable } from './outcomes.js';
import type { CdsServiceDefinition } from './service.js';
import { CallFhirAccess, loadPrefetch, type LoadPrefetchOptions, type PrefetchedKey } from './service.js';
import type { Card, CdsRequest, CdsResponse, HookName } from './schemas.js';
import { searchBundleError } from '../fhir/search-bundle.js';
import {
  cardSchema,
  cdsRequestSchema,
  contextSchemas,
  discoveryResponseSchema,
  feedbackRequestSchema,
} from './schemas.js';
import type { CardSink, FeedbackSink } from './sinks.js';
import type { AuditRecord } from '../audit/audit.js';
import type { ServiceMetrics } from '../observability/metrics.js';
import { allowOnly } from './allow-only.js';
import { CommitOutcomeUnknownError } from '../shared/storage-errors.js';

export interface CdsRouterDeps<D> {
  config: Config;
  log: Logger;
  services: readonly CdsServiceDefinition<HookName, D>[];
  serviceDeps: D;
  feedback?: FeedbackSink | undefined;
  /** Records issued cards off the response path (src/storage/card-recorder.ts); never blocks. */
  cardRecorder?: CardSink | undefined;
  now: () => Date;
  /** Calls, cards, prefetch sources, feedback and FHIR requests are counted here. */
  metrics?: ServiceMetrics | undefined;
  /** Every service call is recorded here once answered (src/audit/recorder.ts); never blocks. */
  audit?: { record(record: AuditRecord): void } | undefined;
  /** MAX_JSON_VALUES_IN_FLIGHT: room for the calls' fhirServer answers (their bodies: json-body.ts). */
  valueBudget?: Budget | undefined;
}

/** What a service call's audit record and metrics need, filled in as the call proceeds. */
interface CallTrail {
  serviceId: string | undefined;
  hook: string | undefined;
  patientId?: string | undefined;
  userId?: string | undefined;
  hookInstance?: string | undefined;
  cardUuids: string[];
}

/**
 * Once the call is answered (or the client went away: 499), counts it and appends its audit
 * record: who, which patient, which service, the cards returned, the status.
 */
function traceCall<D>(deps: CdsRouterDeps<D>, req: Request, res: Response, trail: CallTrail): void {
  const started = performance.now();
  res.on('close', () => {
    const status = res.writableFinished ? res.statusCode : 499;
    if (deps.metrics) {
      const service = deps.metrics.serviceLabel(trail.serviceId);
      const hook = service === 'unknown' ? 'unknown' : (trail.hook ?? 'unknown');
      deps.metrics.calls.inc({ service, hook, status: String(status) });
      deps.metrics.callDuration.observe({ service, hook }, (performance.now() - started) / 1000);
    }
    deps.audit?.record({
      recordedAt: deps.now(),
      action: 'cds-call',
      clientIss: req.cdsClient?.iss,
      clientSub: req.cdsClient?.sub,
      userId: trail.userId,
      patientId: trail.patientId,
      serviceId: trail.serviceId,
      hook: trail.hook,
      hookInstance: trail.hookInstance,
      cardUuids: trail.cardUuids,
      status,
      requestId: req.id,
      clientAddress: req.ip,
    });
  });
}

export function discoveryDocument(services: readonly CdsServiceDefinition<HookName, unknown>[]): unknown {
  return discoveryResponseSchema.parse({
    services: services.map((s) => ({
      hook: s.hook,
      id: s.id,
      title: s.title,
      description: s.description,
      ...(Object.keys(s.prefetch).length > 0 ? { prefetch: s.prefetch } : {}),
      ...(s.usageRequirements ? { usageRequirements: s.usageRequirements } : {}),
    })),
  });
}

export function cdsHooksRouter<D>(deps: CdsRouterDeps<D>): Router {
  const router = Router();
  const byId = new Map(deps.services.map((s) => [s.id, s]));
  const discovery = discoveryDocument(deps.services);

  router.get('/cds-services', (_req: Request, res: Response) => {
    res.json(discovery);
  });

  router.post('/cds-services/:id', async (req: Request, res: Response) => {
    const service = byId.get(String(req.params['id']));
    const trail: CallTrail = { serviceId: String(req.params['id']), hook: service?.hook, cardUuids: [] };
    traceCall(deps, req, res, trail);
    if (!service) throw notFound(`No CDS service with id "${String(req.params['id'])}"`);
    const body = requireJsonBody(req);
    checkMemberCounts(body);
    const parsed = cdsRequestSchema.safeParse(body);
    if (!parsed.success) throw badRequestFromZod(parsed.error);
    const request = parsed.data;
    (res.locals as { hookInstance?: string }).hookInstance = request.hookInstance;
    trail.hookInstance = request.hookInstance;
    trail.userId = stringField(request.context, 'userId');
    trail.patientId = stringField(request.context, 'patientId');
    if (request.hook !== service.hook) {
      throw badRequest(`hook: service ${service.id} answers "${service.hook}", not "${request.hook}"`, 'hook');
    }
    const context = contextSchemas[service.hook].safeParse(request.context);
    if (!context.success) throw badRequestFromZod(context.error, 'context');
    checkPrefetchBundles(service, request);

    const log = deps.log.child({ reqId: req.id, hookInstance: request.hookInstance, serviceId: service.id });
    const options = callOptions(deps, req, res, log);
    const fhir = new CallFhirAccess(request, { ...options, bodyValues: bodyValuesOf(req) });
    onCallEnd(req, res, () => fhir.release()); // at once should the client have left already
    if (service.relevant && !(await service.relevant(context.data, deps.serviceDeps, fhir))) {
      log.debug('nothing this service advises on: no data read');
      res.json({ cards: [] } satisfies CdsResponse);
      return;
    }
    const data = await loadPrefetch(service, request, options, fhir);
    const response = await service.handler({ request, context: context.data, data, fhir }, deps.serviceDeps);
    const cards = validCards(response, log);
    noteResults(deps, service.id, data, cards, trail);
    if (deps.cardRecorder && cards.length > 0) {
      const issued = cards
        .filter((c) => c.uuid)
        .map((c) => ({ uuid: c.uuid as string, kind: cardKind(c), indicator: c.indicator }));
      // Card bookkeeping feeds reports; it must never cost the clinician their cards, nor time.
      deps.cardRecorder.record(service.id, issued, deps.now());
    }
    log.debug({ cards: cards.length }, 'cards returned');
    res.json({ ...response, cards } satisfies CdsResponse);
  });

  router.post('/cds-services/:id/feedback', async (req: Request, res: Response) => {
    const service = byId.get(String(req.params['id']));
    if (!service) throw notFound(`No CDS service with id "${String(req.params['id'])}"`);
    const body = requireJsonBody(req);
    const parsed = feedbackRequestSchema.safeParse(body);
    if (!parsed.success) throw badRequestFromZod(parsed.error);
    if (!deps.feedback) throw notFound('Feedback storage is not configured');
    // Answer 200 only once the feedback is durably stored.
    const countFeedback = (result: 'stored' | 'failed' | 'unknown'): void => {
      for (const f of parsed.data.feedback)
        deps.metrics?.feedback.inc({ service: service.id, outcome: f.outcome, result });
    };
    try {
      await deps.feedback.recordFeedback(service.id, parsed.data.feedback, deps.now());
      countFeedback('stored');
    } catch (err) {
      const maybeStored = err instanceof CommitOutcomeUnknownError;
      countFeedback(maybeStored ? 'unknown' : 'failed');
      throw feedbackNotStored(deps.log, { reqId: req.id, serviceId: service.id }, err);
    }
    res.status(200).json({ stored: parsed.data.feedback.length });
  });

  router.all('/cds-services', allowOnly('GET'));
  for (const path of ['/cds-services/:id', '/cds-services/:id/feedback']) router.all(path, allowOnly('POST'));
  return router;
}

/** The most members `context`, `prefetch` and `extension` may hold: the spec's have a handful. */
const MAX_MEMBERS = 100;

/**
 * Refuses a `context`, `prefetch` or `extension` of more than {@link MAX_MEMBERS} members before zod
 * reads the request: zod copies such records member by member (twice for `context`), and 750,000
 * members in a 14 MB body held 440 MB.
 */
function checkMemberCounts(body: Record<string, unknown>): void {
  for (const name of ['context', 'prefetch', 'extension']) {
    const value = body[name];
    if (!value || typeof value !== 'object') continue;
    let n = 0;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (++n > MAX_MEMBERS) throw badRequest(`${name}: more than ${MAX_MEMBERS} members`, name);
    }
  }
}

/**
 * A prefetch Bundle whose `entry` is not a list of objects (searchBundleSchema, the rule fhirServer's
 * pages are held to) is a malformed request (400), as a malformed
 * draftOrders Bundle is, and not a failed search to read again from fhirServer: the client's way
 * of saying a search failed is to leave the key out (or send an OperationOutcome).
 */
function checkPrefetchBundles(service: CdsServiceDefinition<HookName, unknown>, request: CdsRequest): void {
  for (const key of Object.keys(service.prefetch)) {
    const value = request.prefetch?.[key];
    if ((value as { resourceType?: unknown } | null | undefined)?.resourceType !== 'Bundle') continue;
    const error = searchBundleError(value);
    if (error) throw badRequestFromZod(error, `prefetch.${key}`);
  }
}

/**
 * Why a call's FHIR reads stop when its response closes (sent, or the client went away): one reason
 * for every call. `abort()` without one builds a DOMException with its stack each time, which was
 * the costliest step of a small call.
 */
const CALL_CLOSED = Object.assign(new Error('the CDS call ended or its client went away'), { name: 'AbortError' });

/**
 * The call's deadline (FHIR_TIMEOUT_MS), cancelled too when the call ends (answered, its client
 * gone, a pipelined request's connection closed: call-end.ts); FHIR requests are counted.
 */
function callOptions<D>(deps: CdsRouterDeps<D>, req: Request, res: Response, log: Logger): LoadPrefetchOptions {
  const call = new AbortController();
  // Every FHIR read of the call listens to this signal while in flight (more than Node's default 10
  // with parallel searches); each removes its listener when done.
  setMaxListeners(0, call.signal);
  const deadline = setTimeout(
    () => call.abort(new DOMException('FHIR_TIMEOUT_MS passed', 'TimeoutError')),
    deps.config.fhir.timeoutMs,
  );
  deadline.unref(); // as AbortSignal.timeout's: the deadline alone never keeps the process up
  onCallEnd(req, res, () => {
    clearTimeout(deadline);
    call.abort(CALL_CLOSED);
  });
  const { metrics } = deps;
  return {
    config: deps.config,
    now: deps.now(),
    signal: call.signal,
    log,
    valueBudget: deps.valueBudget,
    fhirObserver: metrics ? (outcome, type, seconds) => metrics.observeFhirRequest(outcome, type, seconds) : undefined,
  };
}

/** Prefetch sources and cards issued, for the metrics; card uuids for the audit record. */
function noteResults<D>(
  deps: CdsRouterDeps<D>,
  serviceId: string,
  data: Record<string, PrefetchedKey>,
  cards: readonly Card[],
  trail: CallTrail,
): void {
  for (const [key, value] of Object.entries(data))
    deps.metrics?.prefetchKeys.inc({ service: serviceId, key, source: value.source });
  for (const c of cards) {
    if (c.uuid) trail.cardUuids.push(c.uuid);
    deps.metrics?.cards.inc({ service: serviceId, kind: cardKind(c), indicator: c.indicator });
  }
}

/** A string field of the hook context, if present (for the audit record). */
function stringField(context: unknown, name: string): string | undefined {
  const value = (context as Record<string, unknown> | null | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The 503 of feedback not acknowledged, logged. "Nothing was saved" only when the store failed before
 * COMMIT was sent; after, the entries may be stored, and sending them again is safe (stored once).
 */
function feedbackNotStored(log: Logger, fields: { reqId: string; serviceId: string }, err: unknown): Error {
  // Only the error's name and code: a database message may quote the clinician's comment.
  if (err instanceof CommitOutcomeUnknownError) {
    log.error({ ...fields, error: errorTag(err.cause) }, 'feedback may be stored: COMMIT was not answered');
    return serviceUnavailable(
      'Feedback may have been stored: the database did not confirm it in time. Sending it again is safe: it is stored once',
    );
  }
  log.error({ ...fields, error: errorTag(err) }, 'feedback not stored');
  return serviceUnavailable('Feedback could not be stored; nothing was saved, send it again later');
}

/** What of a storage error may be logged: its class and code, never its message. */
function errorTag(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown };
  return [typeof e.name === 'string' ? e.name : 'Error', typeof e.code === 'string' ? e.code : '']
    .filter(Boolean)
    .join(' ');
}

/** Drops (and logs) any card that would break the spec, so one bad card cannot hide the others. */
function validCards(response: CdsResponse, log: Logger): Card[] {
  const cards: Card[] = [];
  for (const card of response.cards) {
    const check = cardSchema.safeParse(card);
    if (check.success) cards.push(card);
    else
      log.error({ issues: check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'invalid card dropped');
  }
  return cards;
}
