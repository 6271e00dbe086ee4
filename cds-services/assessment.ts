/**
 * The step every hematotoxicity service shares: assess the prefetched (or fetched) resources of
 * the context patient as of today in the hospital's time zone.
 */
import type { FhirResource } from 'fhir/r4.js';
import type { FhirReader, PrefetchedKey } from '../src/cds-hooks/service.js';
import { assess } from '../src/clinical/assess.js';
import { todayIn } from '../src/clinical/dates.js';
import type { Assessment, AssessmentIssue } from '../src/clinical/types.js';
import type { CardContext } from '../src/cards/common.js';
import type { ServiceDeps } from '../src/service-deps.js';
import { engineSettings } from '../src/profiles.js';
import { recordMedications } from './record-medications.js';

/**
 * The call's data with the Medications its administrations name but it does not hold, read from
 * fhirServer (cds-services/record-medications.ts), under a key of their own.
 */
export async function withRecordMedications(
  data: Record<string, PrefetchedKey>,
  fhir: FhirReader,
): Promise<Record<string, PrefetchedKey>> {
  const medications = await recordMedications(data, fhir);
  return medications ? { ...data, [RECORD_MEDICATIONS_KEY]: medications } : data;
}

/** Not a prefetch key of any service: the Medications read for the record's administrations. */
const RECORD_MEDICATIONS_KEY = 'medicationsNamedByAdministrations';

/** `withSeries`: the day-by-day values too (the patient-view cards' recent-values tables need them). */
export function assessPrefetched(
  data: Record<string, PrefetchedKey>,
  patientId: string,
  deps: ServiceDeps,
  withSeries = false,
  extraIssues: readonly AssessmentIssue[] = [],
): Assessment {
  const resources: FhirResource[] = [];
  const inputIssues: AssessmentIssue[] = [...extraIssues];
  for (const key of Object.values(data)) {
    for (const r of key.resources) resources.push(r);
    for (const i of key.issues) inputIssues.push(i);
  }
  const { clinical } = deps;
  const run = (): Assessment =>
    assess(resources, {
      ...engineSettings(clinical),
      asOf: todayIn(clinical.timeZone, deps.now()),
      asOfIsToday: true,
      patientId,
      includeSeries: withSeries,
      inputIssues,
    });
  // cds_engine_duration_seconds: the engine alone, FHIR reads and card building excluded.
  return deps.metrics ? deps.metrics.timeEngine('cds-call', run) : run();
}

export function cardContext(serviceId: string, patientId: string, deps: ServiceDeps): CardContext {
  return { serviceId, patientId, smartLaunchUrl: deps.smartLaunchUrl, orderables: deps.clinical.orderables };
}
