/**
 * What every CDS service handler may use. Built once at start-up by src/server.ts (or by tests);
 * src/app.ts passes it to the services of cds-services/ and to POST /assessments.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { ServiceMetrics } from './observability/metrics.js';
import type { ClinicalContext } from './profiles.js';

export interface ServiceDeps {
  config: Config;
  clinical: ClinicalContext;
  log: Logger;
  now: () => Date;
  /** Absolute URL of the SMART app's launch page, for card links; undefined when not served. */
  smartLaunchUrl: string | undefined;
  /** Engine time is measured here (cds_engine_duration_seconds); createApp sets it when absent. */
  metrics?: Pick<ServiceMetrics, 'timeEngine'> | undefined;
}
