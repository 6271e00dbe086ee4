/**
 * The app's configuration from the service (./config.json) and the engine context built from it:
 * the same ValueSets, local codes and hospital thresholds the cards use.
 */
import type { EngineSettings } from '../clinical/assess.js';
import { buildTerminology } from '../clinical/terminology.js';
import type { SmartAppConfig } from '../smart-config.js';

export type EngineContext = EngineSettings;

export async function loadAppConfig(): Promise<SmartAppConfig> {
  const res = await fetch(new URL('./config.json', location.href), { cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) throw new Error(`Could not read the app configuration (config.json: HTTP ${res.status})`);
  return (await res.json()) as SmartAppConfig;
}

export function engineContext(config: SmartAppConfig): EngineContext {
  const c = config.clinical;
  return {
    terminology: buildTerminology(c.valueSets, c.localCodes),
    thresholds: { values: c.thresholds.values, overridden: new Set(c.thresholds.overridden) },
    timeZone: c.timeZone,
  };
}

/** The demo FHIR server's base URL on this origin, when the service runs the demo. */
export function demoFhirBase(config: SmartAppConfig): string | undefined {
  return config.demo ? new URL(config.demo.fhirBasePath, location.origin).href.replace(/\/+$/, '') : undefined;
}
