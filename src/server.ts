/**
 * Entry point: reads the configuration, builds the dependencies, seeds the demo FHIR server,
 * listens, and shuts down gracefully. Nothing else starts the server.
 */
import { createServer, type Server, type ServerOptions } from 'node:http';
import type { ServiceDeps } from './service-deps.js';
import { todayIn } from './clinical/dates.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { DemoWorker } from './demo/fhir-worker-host.js';
import type * as Services from '../cds-services/index.js';
import type * as Prefetch from '../cds-services/prefetch.js';
import type * as App from './app.js';
import type * as Demo from './demo/fhir-server.js';
import type * as Profiles from './profiles.js';
import type * as Runtime from './runtime.js';
import type * as SmartRouter from './http/smart-router.js';
import { createLogger, type Logger } from './logger.js';

export interface RunningServer {
  server: Server;
  baseUrl: string;
  /** `delayMs`: how long readiness answers 503 before the listener closes (SIGTERM: SHUTDOWN_DELAY_MS). */
  close(options?: { delayMs?: number }): Promise<void>;
}

/** The demo FHIR server's worker thread, as of today in the hospital's time zone. */
async function startDemoWorker(config: Config): Promise<DemoWorker> {
  const host = await import('./demo/fhir-worker-host.js');
  return host.startDemoWorker({
    today: todayIn(config.timeZone),
    bodyLimit: config.bodyLimit,
    maxJsonValues: config.bodyMaxJsonValues,
  });
}

type ServiceModules = typeof Services &
  typeof Prefetch &
  typeof App &
  typeof Demo &
  typeof Profiles &
  typeof Runtime &
  typeof SmartRouter;

/**
 * The service's modules, imported here rather than at the top of this file so that the demo
 * worker can be started first (express, zod, prom-client and the engine take most of start-up).
 */
async function serviceModules(): Promise<ServiceModules> {
  const [cds, prefetch, app, demo, profiles, runtime, smart] = await Promise.all([
    import('../cds-services/index.js'),
    import('../cds-services/prefetch.js'),
    import('./app.js'),
    import('./demo/fhir-server.js'),
    import('./profiles.js'),
    import('./runtime.js'),
    import('./http/smart-router.js'),
  ]);
  return { ...cds, ...prefetch, ...app, ...demo, ...profiles, ...runtime, ...smart };
}

/** Builds everything from `config` and listens; used by main() and by end-to-end tests. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // The demo FHIR server runs in a worker thread, started before the service's own modules are
  // loaded: the worker boots on the other core meanwhile, so start-up with the demo takes about as
  // long as without.
  const worker = config.demo ? await startDemoWorker(config) : undefined;
  const modules = await serviceModules();
  const { cdsServices, smartAppQueries, createApp, smartAppConfig, DEMO_FHIR_PATH } = modules;
  const { loadClinicalContext, closeGracefully, openRuntime, SMART_PATH, smartAppDir } = modules;
  const demoFhir = worker ? new modules.DemoFhirServer(worker) : undefined;
  void worker?.seeded.then(
    (count) => log.info({ resources: count }, 'demo FHIR server seeded with synthetic patients'),
    (error: unknown) => log.error({ err: error }, 'demo FHIR server failed to start'),
  );
  const clinical = loadClinicalContext(config);
  warnStartup(config, log, modules.requiredLookbackDays(clinical.thresholds.values));

  const services = cdsServices(clinical);
  const runtime = await openRuntime(config, log, services);
  const { feedback, cardRecorder } = runtime;
  /** SIGTERM: readiness answers 503 from here on, so the load balancer stops sending calls. */
  let draining = false;

  const smartDir = smartAppDir();
  if (!smartDir)
    log.warn(
      'The SMART app is not built (dist/smart-app is missing): /smart answers 404 and cards carry no app link. Run `npm run build`.',
    );
  const smart = { appConfig: smartAppConfig(config, clinical, smartAppQueries(clinical)), dir: smartDir };

  let baseUrl = config.publicBaseUrl ?? `http://localhost:${config.port}`;
  const serviceDeps: ServiceDeps = { config, clinical, log, now: () => new Date(), smartLaunchUrl: undefined };
  const storagePing = lastAnswer(() => feedback.ping());
  const app = createApp({
    config,
    log,
    services,
    serviceDeps,
    demoFhir,
    feedback,
    cardRecorder,
    audit: runtime.audit,
    auditRecorder: runtime.auditRecorder,
    replay: runtime.replay,
    metrics: runtime.metrics,
    smart,
    readiness: {
      checks: () => ({
        config: true,
        accepting: !draining,
        valueSets: clinical.terminology.size > 0,
        ...(config.demo ? { demoData: demoFhir?.thread?.isSeeded() ?? false } : {}),
      }),
      // The last ping's answer, a new ping started in the background: a frozen database (a ping waits
      // STORAGE_TIMEOUT_MS) must not hold /readyz past the probe's timeout either.
      dependencies: () => ({ feedbackStorage: storagePing.check() }),
    },
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = createServer(httpServerOptions(config), app);
    s.once('error', reject);
    s.listen(config.port, config.host, () => resolve(s));
  });
  const address = server.address();
  if (!config.publicBaseUrl && address && typeof address === 'object') baseUrl = `http://localhost:${address.port}`;
  // Cards link the app's launch page; the EHR adds iss and launch when the clinician opens it.
  if (smartDir) serviceDeps.smartLaunchUrl = `${baseUrl}${SMART_PATH}/launch.html`;
  log.info(
    {
      url: baseUrl,
      discovery: `${baseUrl}/cds-services`,
      ...(smartDir ? { smartApp: `${baseUrl}${SMART_PATH}/launch.html` } : {}),
      ...(config.demo
        ? { demoFhir: `${baseUrl}${DEMO_FHIR_PATH}`, demoApp: `${baseUrl}${SMART_PATH}/?patient=cart-aplastic` }
        : {}),
    },
    'cart-hematotox-cds listening',
  );

  return {
    server,
    baseUrl,
    close: async (options: { delayMs?: number } = {}) => {
      // Readiness first (503), then, once the load balancer has seen it, stop listening and let
      // the calls in flight finish.
      draining = true;
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      await closeGracefully(server, config.shutdown.timeoutMs);
      await runtime.close();
      await demoFhir?.thread?.close();
    },
  };
}

/**
 * Bounds on how long a client may take to send a request (a slow-body client holds a socket and
 * its buffers; Node's own default is 300 s): past HTTP_REQUEST_TIMEOUT_MS for the whole request, or
 * the smaller headers bound, Node answers 408 and closes the connection. Node checks these bounds
 * every `connectionsCheckingInterval` (default 30 s, as long as the bound itself); once a second
 * keeps the bound close. An idle keep-alive connection is not a request in progress: it is closed
 * by `keepAliveTimeout` (5 s) as before.
 */
function httpServerOptions(config: Config): ServerOptions {
  return {
    requestTimeout: config.http.requestTimeoutMs,
    headersTimeout: config.http.headersTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
  };
}

/**
 * What a deployment must not miss: the service runs open, over http, listens where HOST did not say, or
 * reads too short a history (`lookbackNeeded`: requiredLookbackDays of the thresholds in force).
 */
function warnStartup(config: Config, log: Logger, lookbackNeeded: number): void {
  if (config.fhir.lookbackDays < lookbackNeeded)
    log.warn(
      { lookbackDays: config.fhir.lookbackDays, needed: lookbackNeeded },
      'LOOKBACK_DAYS is shorter than the follow-up, the lymphodepletion window and the baseline look-back together: late in follow-up, a record read from fhirServer (and the SMART app) lacks its baselines.',
    );
  if (config.auth.trustedIssuers.length === 0) {
    log.warn(
      'CDS CLIENT AUTHENTICATION IS OFF: CDS_TRUSTED_ISSUERS is not set, so any caller can use discovery, the services and feedback. Set CDS_TRUSTED_ISSUERS before connecting a real EHR.',
    );
  }
  if (config.fhir.allowHttp)
    log.warn('FHIR_ALLOW_HTTP is on: fhirServer URLs over plain http are accepted (demo only).');
  if (config.fhir.allowedOrigins.length === 0)
    log.warn('FHIR_ALLOWED_ORIGINS is empty: any fhirServer origin a client names will be contacted.');
  if (process.env['NODE_TLS_REJECT_UNAUTHORIZED'] === '0')
    log.warn(
      'NODE_TLS_REJECT_UNAUTHORIZED=0: Node skips certificate checks for the JWKS URLs of CDS_TRUSTED_ISSUERS (fhirServer reads verify certificates regardless). Unset it; give a private CA in NODE_EXTRA_CA_CERTS instead.',
    );
  if (config.hostExplicit) return;
  log.warn(
    { host: config.host },
    config.host === '127.0.0.1'
      ? 'HOST is not set and client authentication is off: listening on 127.0.0.1 only. Set HOST (e.g. 0.0.0.0) to listen on other interfaces.'
      : 'HOST is not set: listening on every interface (client authentication is on).',
  );
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  let running: RunningServer;
  try {
    running = await startServer(config, log);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    log.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  const shutdown = (signal: string): void => {
    // SIGTERM (Kubernetes, the load balancer's orchestrator): drain. SIGINT (a terminal): at once.
    const delayMs = signal === 'SIGTERM' ? config.shutdown.delayMs : 0;
    log.info({ signal, delayMs, timeoutMs: config.shutdown.timeoutMs }, 'shutting down: draining');
    running
      .close({ delayMs })
      .then(() => {
        log.info('shut down');
        process.exit(0);
      })
      .catch(() => process.exit(1));
    const hardStopMs = delayMs + config.shutdown.timeoutMs + 4 * config.storage.timeoutMs + 1000;
    setTimeout(() => process.exit(1), hardStopMs).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  void main();
}

/**
 * A check run in the background, one at a time: `check()` starts another unless one is under way and
 * answers the last one's result (true until the first comes in).
 */
function lastAnswer(run: () => Promise<boolean>): { check(): boolean } {
  let up = true;
  let running = false;
  const check = (): boolean => {
    if (!running) {
      running = true;
      run()
        .then(
          (ok) => (up = ok),
          () => (up = false),
        )
        .finally(() => (running = false));
    }
    return up;
  };
  check();
  return { check };
}
