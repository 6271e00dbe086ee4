/**
 * The Medications a patient's MedicationAdministrations name by reference (`medicationReference`)
 * that the prefetch, or the service's own search, did not include. EHRs that record administrations
 * against a formulary Medication put no code on the administration itself, and CDS Hooks asks
 * prefetch templates not to use `_include`: without this read, a CAR-T product, G-CSF or IVIG given
 * that way is not seen. They are read from fhirServer in searches by `_id` (fhir/medication-search.ts:
 * 50 ids each, at most 200 in all), concurrently, within a share of the call's deadline and
 * its byte caps. What cannot be had is left to the engine, which names each administration whose
 * Medication it did not get (`medication-unknown`, docs/clinical-logic.md §1).
 */
import { PrefetchError, type FhirReader, type PrefetchedKey } from '../src/cds-hooks/service.js';
import { medicationsToRead } from '../src/clinical/record.js';
import { FhirAccessError } from '../src/fhir/gateway.js';
import { askedMedications, IDS_PER_SEARCH, medicationSearches } from '../src/fhir/medication-search.js';
import { screenResources } from '../src/fhir/resource-schemas.js';
import { MEDICATION_READ_SHARE } from './draft-orders.js';

/**
 * The Medications to add to the call's data (a key of their own), or undefined when every one
 * named is already there. A search that fails gives a `data-unavailable` issue instead.
 */
export async function recordMedications(
  data: Record<string, PrefetchedKey>,
  fhir: FhirReader,
): Promise<PrefetchedKey | undefined> {
  const missing = medicationsToRead(...Object.values(data).map((key) => key.resources));
  if (missing.length === 0) return undefined;
  const { ids, urls } = medicationSearches(missing);
  if (missing.length > ids.length)
    fhir.log.warn({ named: missing.length, read: ids.length }, 'more Medications named than one call reads');
  // Each search on its own: one that fails loses only its own ids, not those the others found.
  const timeoutMs = Math.round(fhir.deadlineMs * MEDICATION_READ_SHARE);
  const settled = await Promise.allSettled(urls.map((url) => fhir.search([url], { timeoutMs })));
  const found: unknown[] = [];
  let unread = 0;
  let reason = '';
  for (const [i, result] of settled.entries()) {
    if (result.status === 'fulfilled') found.push(...result.value);
    else {
      const error: unknown = result.reason;
      if (!(error instanceof FhirAccessError) && !(error instanceof PrefetchError)) throw error;
      unread += Math.min(IDS_PER_SEARCH, ids.length - i * IDS_PER_SEARCH);
      reason ||= error.message;
    }
  }
  const screened = screenResources(askedMedications(found, ids));
  if (unread > 0) {
    fhir.log.warn({ medications: unread, reason }, 'Medications named by administrations not read');
    screened.issues.push({
      severity: 'warning',
      code: 'data-unavailable',
      message: `${unread === 1 ? 'a Medication' : `${unread} Medications`} the patient's administrations name could not be read from fhirServer (${reason})`,
    });
  }
  return { ...screened, source: 'fetched' };
}
