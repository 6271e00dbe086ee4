/**
 * Entry point: reads the configuration, builds the dependencies, seeds the demo FHIR server,
 * listens, and shuts down gracefully. Nothing else starts the server.
 */
import type { Server } from 'node:http';
import { cdsServices } from '../cds-services/index.js';
import { smartAppQueries } from '../cds-services/prefetch.js';
import type { ServiceDeps } from './service-deps.js';
import { createApp, smartAppConfig } from './app.js';
import { todayIn } from './clinical/dates.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { seedDemo } from './demo/demo-patients.js';
import { DEMO_FHIR_PATH, DemoFhirServer } from './demo/fhir-server.js';
import { createLogger, type Logger } from './logger.js';
import { loadClinicalContext } from './profiles.js';
import { CardRecorder, createFeedbackStore } from './storage/index.js';
import { SMART_PATH, smartAppDir } from './http/smart-router.js';

export interface RunningServer {
  server: Server;
  baseUrl: string;
  close(): Promise<void>;
}

/** Builds everything from `config` and listens; used by main() and by end-to-end tests. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const clinical = loadClinicalContext(config);
  if (config.auth.trustedIssuers.length === 0) {
    log.warn(
      'CDS CLIENT AUTHENTICATION IS OFF: CDS_TRUSTED_ISSUERS is not set, so any caller can use discovery, the services and feedback. Set CDS_TRUSTED_ISSUERS before connecting a real EHR.',
    );
  }
  if (config.fhir.allowHttp)
    log.warn('FHIR_ALLOW_HTTP is on: fhirServer URLs over plain http are accepted (demo only).');
  if (config.fhir.allowedOrigins.length === 0)
    log.warn('FHIR_ALLOWED_ORIGINS is empty: any fhirServer origin a client names will be contacted.');

  let demoFhir: DemoFhirServer | undefined;
  let demoSeeded = false;
  if (config.demo) {
    demoFhir = new DemoFhirServer();
    const count = await seedDemo(demoFhir, todayIn(config.timeZone));
    demoSeeded = true;
    log.info({ resources: count }, 'demo FHIR server seeded with synthetic patients');
  }

  const feedback = await createFeedbackStore(config, log);
  log.info({ storage: feedback.kind, timeoutMs: config.storage.timeoutMs }, 'feedback storage ready');
  const cardRecorder = new CardRecorder(feedback, { log, maxQueuedBatches: config.storage.cardQueueMax });

  const smartDir = smartAppDir();
  if (!smartDir)
    log.warn(
      'The SMART app is not built (dist/smart-app is missing): /smart answers 404 and cards carry no app link. Run `npm run build`.',
    );
  const smart = { appConfig: smartAppConfig(config, clinical, smartAppQueries(clinical)), dir: smartDir };

  let baseUrl = config.publicBaseUrl ?? `http://localhost:${config.port}`;
  const serviceDeps: ServiceDeps = { config, clinical, log, now: () => new Date(), smartLaunchUrl: undefined };
  const app = createApp({
    config,
    log,
    services: cdsServices(clinical),
    serviceDeps,
    demoFhir,
    feedback,
    cardRecorder,
    smart,
    readiness: {
      checks: async () => ({
        config: true,
        valueSets: clinical.terminology.size > 0,
        feedbackStorage: await feedback.ping(),
        ...(config.demo ? { demoData: demoSeeded } : {}),
      }),
    },
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
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
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Issued cards still queued are written before the store closes (bounded wait).
      await cardRecorder.close(2 * config.storage.timeoutMs);
      await feedback.close();
    },
  };
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
    log.info({ signal }, 'shutting down');
    running
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  void main();
}
