/**
 * createApp(deps): wiring only. Middleware first, then routers, the error handler last.
 * server.ts builds the deps and listens; tests call createApp with their own deps.
 */
import type { Express, Request, Response } from 'express';
import express from 'express';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CdsServiceDefinition } from './cds-hooks/service.js';
import type { HookName } from './cds-hooks/schemas.js';
import { cdsClientAuth, createVerifier, type CdsJwtVerifier, type ReplayStore } from './cds-hooks/auth.js';
import type { AuditStore } from './audit/audit.js';
import { AuditRecorder } from './audit/recorder.js';
import { auditAssessments, refusedCallTrail } from './http/audit-trail.js';
import { registerAuditMetrics } from './audit/metrics.js';
import { registerMemoryBudgetMetrics, ServiceMetrics } from './observability/metrics.js';
import { BODY_BYTES, JSON_VALUES, Budget } from './shared/budget.js';
import { cdsHooksRouter } from './cds-hooks/router.js';
import { adminRouter } from './http/admin-router.js';
import { smartRouter } from './http/smart-router.js';
import { EHR_LAUNCH_SCOPES, STANDALONE_LAUNCH_SCOPES, type SmartAppConfig } from './smart-config.js';
import type { FeedbackStore } from './storage/feedback-store.js';
import { CardRecorder, registerCardRecorderMetrics } from './storage/index.js';
import { jsonBody } from './cds-hooks/json-body.js';
import { notFound } from './cds-hooks/outcomes.js';
import type { Config } from './config.js';
import { DEMO_SCENARIOS } from './demo/demo-patients.js';
import type { DemoFhirServer } from './demo/fhir-server.js';
import { DEMO_FHIR_PATH } from './demo/fhir-server.js';
import { todayIn } from './clinical/dates.js';
import { assessmentsRouter } from './http/assessments-router.js';
import { allowOnly } from './cds-hooks/allow-only.js';
import { cors, createHttpMetrics, errorHandler, requestLogging, securityHeaders } from './http/middleware.js';
import type { ClinicalContext } from './profiles.js';
import type { ServiceDeps } from './service-deps.js';

export interface Readiness {
  /** Named checks; the service is ready when all are true. */
  checks(): Promise<Record<string, boolean>> | Record<string, boolean>;
  /**
   * Dependencies every replica shares (the feedback and audit database), reported but not gating: were
   * their loss to fail readiness, every replica would leave the load balancer at once and no card would
   * flow, although cards need no database.
   */
  dependencies?(): Promise<Record<string, boolean>> | Record<string, boolean>;
}

export interface AppDeps {
  config: Config;
  log: Logger;
  services: readonly CdsServiceDefinition<HookName, ServiceDeps>[];
  serviceDeps: ServiceDeps;
  /** Defaults to the verifier the configuration asks for (see createVerifier). */
  verifier?: CdsJwtVerifier | undefined;
  demoFhir?: DemoFhirServer | undefined;
  feedback?: FeedbackStore | undefined;
  /** Defaults to a CardRecorder on `feedback`; server.ts passes its own to drain it on shutdown. */
  cardRecorder?: CardRecorder | undefined;
  /** The audit trail's table; without it nothing is audited (tests). */
  audit?: AuditStore | undefined;
  /** Defaults to an AuditRecorder on `audit`; server.ts passes its own to flush it on shutdown. */
  auditRecorder?: AuditRecorder | undefined;
  /** Where JWT `jti`s are remembered (PostgreSQL: shared by replicas); default in memory. */
  replay?: ReplayStore | undefined;
  /** Prometheus metrics (GET /metrics); default: a new registry. */
  metrics?: ServiceMetrics | undefined;
  readiness: Readiness;
  now?: () => Date;
  /** The SMART app: its configuration, and the folder of its build (undefined: not built). */
  smart?: { appConfig: SmartAppConfig; dir: string | undefined } | undefined;
}

export function createApp(deps: AppDeps): Express {
  const { config, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag on JSON answers: Express hashes every body (POSTs included) for it, and no CDS client or
  // the SMART app revalidates them. Static files keep theirs (express.static sets its own).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);

  const now = deps.now ?? ((): Date => new Date());
  const serviceMetrics = deps.metrics ?? new ServiceMetrics(new Registry(), deps.services);
  const registry = serviceMetrics.registry;
  collectDefaultMetrics({ register: registry });
  deps.serviceDeps.metrics ??= serviceMetrics;
  const metrics = createHttpMetrics(registry);
  const cardRecorder =
    deps.cardRecorder ??
    (deps.feedback
      ? new CardRecorder(deps.feedback, { log, maxQueuedBatches: config.storage.cardQueueMax })
      : undefined);
  if (cardRecorder) registerCardRecorderMetrics(registry, cardRecorder);
  const auditRecorder = deps.auditRecorder ?? (deps.audit ? new AuditRecorder(deps.audit, { log }) : undefined);
  if (auditRecorder) registerAuditMetrics(registry, auditRecorder);

  app.use(requestLogging(log, metrics));
  app.use(securityHeaders());
  app.use(cors(config.corsOrigins));

  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', readyz(deps.readiness));
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  for (const path of ['/healthz', '/readyz', '/metrics']) app.all(path, allowOnly('GET'));

  if (deps.demoFhir) app.use(DEMO_FHIR_PATH, deps.demoFhir.router(config.bodyLimit, config.bodyMaxJsonValues));
  if (deps.smart) app.use(smartRouter(config, deps.smart.appConfig, deps.smart.dir));

  // Built from the configuration unless given: trusted issuers configured means every call is checked.
  // A refused call is counted by reason, and audited and counted as a call once answered.
  const refused = refusedCallTrail({ audit: auditRecorder, metrics: serviceMetrics, services: deps.services, now });
  const auth = cdsClientAuth(config, deps.verifier ?? createVerifier(config, deps.replay), log, refused);
  app.use('/cds-services', auth);
  app.use('/assessments', auth);
  // Bodies are read and parsed only where a route takes one, after client authentication: elsewhere
  // (an unknown path, /admin) a large or deeply nested body must not hold the event loop first.
  // The pod's memory is one: the budgets of every call's bodies and parsed JSON (fhirServer answers too).
  const { inFlight } = config;
  const room = {
    bytes: new Budget(inFlight.bodyBytes, inFlight.waitMs, BODY_BYTES),
    values: new Budget(inFlight.jsonValues, inFlight.waitMs, JSON_VALUES),
    limitBytes: config.bodyLimitBytes,
  };
  registerMemoryBudgetMetrics(registry, room);
  app.use(['/cds-services', '/assessments'], jsonBody(config.bodyLimit, config.bodyMaxJsonValues, room));
  if (auditRecorder) app.use('/assessments', auditAssessments(auditRecorder, now));
  app.use(assessmentsRouter(deps.serviceDeps.clinical, () => todayIn(config.timeZone, deps.now?.())));
  app.use(
    cdsHooksRouter<ServiceDeps>({
      config,
      log,
      services: deps.services,
      serviceDeps: deps.serviceDeps,
      feedback: deps.feedback,
      cardRecorder,
      now,
      metrics: serviceMetrics,
      audit: auditRecorder,
      valueBudget: room.values,
    }),
  );

  app.use(
    adminRouter({
      adminToken: config.adminToken,
      feedback: deps.feedback,
      audit: deps.audit,
      now,
      onAuthFailure: (result) => serviceMetrics.adminAuthFailures.inc({ result }),
    }),
  );

  app.use((req: Request) => {
    throw notFound(`No route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(log, config.bodyLimit));
  return app;
}

/**
 * GET /readyz: 200 when every check holds, else 503; shared dependencies are reported (`dependencies`,
 * and `degraded` naming those down) without failing it.
 */
function readyz(readiness: Readiness): (req: Request, res: Response) => Promise<void> {
  return async (_req, res) => {
    const checks = await readiness.checks();
    const dependencies = (await readiness.dependencies?.()) ?? {};
    const ready = Object.values(checks).every(Boolean);
    const degraded = Object.keys(dependencies).filter((name) => !dependencies[name]);
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not ready',
      checks,
      dependencies,
      ...(degraded.length > 0 ? { degraded } : {}),
    });
  };
}

/**
 * What GET /smart/config.json answers: the SMART client, the clinical configuration the cards use,
 * the app's FHIR reads (`queries`, from cds-services/prefetch.ts) and, with DEMO=true, the demo
 * FHIR server and its patients.
 */
export function smartAppConfig(
  config: Config,
  clinical: ClinicalContext,
  queries: SmartAppConfig['queries'],
): SmartAppConfig {
  return {
    clientId: config.smart.clientId,
    scopes: { ehr: EHR_LAUNCH_SCOPES, standalone: STANDALONE_LAUNCH_SCOPES },
    allowedIssuers: config.smart.allowedIss,
    standaloneIssuers: config.smart.standaloneIss,
    demo: config.demo
      ? { fhirBasePath: DEMO_FHIR_PATH, patients: DEMO_SCENARIOS.map((s) => ({ id: s.id, label: s.label })) }
      : null,
    clinical: {
      valueSets: [...clinical.valueSets],
      localCodes: clinical.localCodes,
      thresholds: { values: clinical.thresholds.values, overridden: [...clinical.thresholds.overridden] },
      timeZone: clinical.timeZone,
      lookbackDays: config.fhir.lookbackDays,
    },
    queries,
    pageSize: config.fhir.pageSize,
  };
}
