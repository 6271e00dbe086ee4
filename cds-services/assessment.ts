/**
 * The step every hematotoxicity service shares: assess the prefetched (or fetched) resources of
 * the context patient as of today in the hospital's time zone.
 */
import type { FhirResource } from 'fhir/r4.js';
import type { PrefetchedKey } from '../src/cds-hooks/service.js';
import { assess } from '../src/clinical/assess.js';
import { todayIn } from '../src/clinical/dates.js';
import type { Assessment } from '../src/clinical/types.js';
import type { CardContext } from '../src/cards/common.js';
import type { ServiceDeps } from './deps.js';
import { engineSettings } from '../src/profiles.js';

/** `withSeries`: the day-by-day values too (the patient-view cards' recent-values tables need them). */
export function assessPrefetched(data: Record<string, PrefetchedKey>, patientId: string, deps: ServiceDeps, withSeries = false): Assessment {
  const resources = Object.values(data).flatMap((key) => key.resources) as FhirResource[];
  const { clinical } = deps;
  return assess(resources, { ...engineSettings(clinical), asOf: todayIn(clinical.timeZone, deps.now()), patientId, includeSeries: withSeries });
}

export function cardContext(serviceId: string, patientId: string, deps: ServiceDeps): CardContext {
  return { serviceId, patientId, smartLaunchUrl: deps.smartLaunchUrl };
}
