/**
 * The searches that read the Medications a record's administrations name by reference
 * (`medicationReference`), for the services (cds-services/record-medications.ts) and the SMART app
 * alike: by `_id`, IDS_PER_SEARCH ids per search, at most MAX_NAMED_MEDICATIONS in all.
 */

/** Ids per `Medication?_id=` search: 50 ids of up to 64 characters keep the URL under 4 kB. */
export const IDS_PER_SEARCH = 50;
/** Distinct Medications one call (or one opening of the app) reads; past it they stay unknown. */
export const MAX_NAMED_MEDICATIONS = 200;

/**
 * Relative search URLs for `keys` (`Medication/<id>`, ids already checked as FHIR ids by
 * medicationKey, so none can add a parameter), the first MAX_NAMED_MEDICATIONS of them.
 */
export function medicationSearches(keys: readonly string[]): { ids: string[]; urls: string[] } {
  const ids = keys.slice(0, MAX_NAMED_MEDICATIONS).map((k) => k.slice('Medication/'.length));
  const urls: string[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_SEARCH)
    urls.push(`Medication?_id=${ids.slice(i, i + IDS_PER_SEARCH).join(',')}&_count=${IDS_PER_SEARCH}`);
  return { ids, urls };
}

/**
 * Of what the searches returned, the Medications asked for (`ids`): whatever else a server sends,
 * other types, other ids, anything that is not an object, is not what the record names.
 */
export function askedMedications(found: readonly unknown[], ids: readonly string[]): unknown[] {
  const wanted = new Set(ids);
  return found.filter((r) => {
    if (!r || typeof r !== 'object') return false;
    const { resourceType, id } = r as { resourceType?: unknown; id?: unknown };
    return resourceType === 'Medication' && typeof id === 'string' && wanted.has(id);
  });
}
