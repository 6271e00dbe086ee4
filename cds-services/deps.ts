/**
 * What every CDS service handler may use. Built once at start-up by src/server.ts (or by tests).
 */
import type { Logger } from 'pino';
import type { Config } from '../src/config.js';
import type { ClinicalContext } from '../src/profiles.js';

export interface ServiceDeps {
  config: Config;
  clinical: ClinicalContext;
  log: Logger;
  now: () => Date;
  /** Absolute URL of the SMART app's launch page, for card links; undefined when not served. */
  smartLaunchUrl: string | undefined;
}
