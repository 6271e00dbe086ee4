/**
 * Reading FHIR input for assessments: a Bundle (collection, searchset, transaction, batch) as sent
 * to POST /assessments or given to the CLI, and FHIR Bulk Data NDJSON files grouped by patient.
 */
import type { FhirResource, Reference } from 'fhir/r4.js';
import { z } from 'zod';
import { patientIdOf } from '../clinical/record.js';
import { isFailureOutcome } from './search-bundle.js';
import { isObject } from './resource-check.js';
import { screenResource, type Screened } from './resource-schemas.js';

export const assessmentBundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.enum(
    ['collection', 'searchset', 'transaction', 'batch', 'document', 'transaction-response', 'batch-response'],
    {
      error: 'must be collection, searchset, transaction, batch, document, transaction-response or batch-response',
    },
  ),
  /** Entries are screened one by one (see bundleResources): one bad resource costs that resource. */
  entry: z.array(z.unknown()).optional(),
});

/**
 * The resources of a validated Bundle that have the shape the engine reads, and one issue per
 * resource left out, and per entry that is not an object or has no resource (a transaction's
 * entry with only a `request`, such as a DELETE, holds no data and is passed over). References between entries are
 * resolved through their fullUrls (see resolveEntryReferences): a transaction Bundle names its
 * Patient and Medications by `urn:uuid:`.
 */
/** Issues worded before entries without a resource are only counted. */
const ENTRIES_WORDED = 1000;

export function bundleResources(bundle: z.infer<typeof assessmentBundleSchema>): Screened {
  const kept: BundleEntry[] = [];
  const issues: Screened['issues'] = [];
  // Entries that hold no resource at all are worded one by one up to a bound, then counted: a
  // million of them (`entry: [0, 0, …]`, 3 MB) was a million issues held in memory.
  let unworded = 0;
  const leftOut = (index: number, why: string): void => {
    if (issues.length >= ENTRIES_WORDED) unworded++;
    else
      issues.push({
        severity: 'warning',
        code: 'resource-invalid',
        message: `Bundle entry[${index}] ${why}; left out`,
      });
  };
  for (const [index, entry] of (bundle.entry ?? []).entries()) {
    if (!isObject(entry)) {
      leftOut(
        index,
        `is ${entry === null ? 'null' : Array.isArray(entry) ? 'an array' : `a ${typeof entry}`}, not an entry`,
      );
      continue;
    }
    const resource = entry['resource'];
    if (resource === undefined || resource === null) {
      // A transaction's entry with only a request (a DELETE) holds no data: nothing to say.
      if (resource === undefined && entry['request']) continue;
      leftOut(index, 'has no resource');
      continue;
    }
    const result = screenResource(resource);
    if (!result.ok) issues.push(result.issue);
    else {
      const fullUrl = entry['fullUrl'];
      kept.push({ resource: result.resource, fullUrl: typeof fullUrl === 'string' ? fullUrl : undefined });
    }
  }
  if (unworded > 0) {
    // First, so that an answer listing only the first issues of each kind still tells how many.
    const n = unworded.toLocaleString('en');
    const message = `${n} Bundle ${unworded === 1 ? 'entry' : 'entries'} beyond the first ${ENTRIES_WORDED.toLocaleString('en')} issues hold no resource; left out`;
    issues.unshift({ severity: 'warning', code: 'resource-invalid', message });
  }
  // A search or an export that failed part-way says so in an OperationOutcome (a searchset's
  // search.mode "outcome"): what the Bundle holds may then be incomplete, and the cards must say so.
  const failures = kept.filter((e) => e.resource.resourceType === 'OperationOutcome' && isFailureOutcome(e.resource));
  if (failures.length > 0)
    issues.push({
      severity: 'warning',
      code: 'data-unavailable',
      message: `the Bundle holds ${failures.length === 1 ? 'an OperationOutcome' : `${failures.length} OperationOutcomes`} reporting an error: the search or export that made it may have failed part-way, and the record may be incomplete`,
    });
  return { resources: resolveEntryReferences(kept), issues };
}

export interface BundleEntry {
  resource: FhirResource;
  fullUrl: string | undefined;
}

/** A FHIR id (R4 datatypes: `[A-Za-z0-9\-.]{1,64}`). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** A RESTful fullUrl: `[base]/[Type]/[id]` (R4 Bundle.entry.fullUrl, version-independent). */
const RESTFUL = /^https?:\/\/.+\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * A URI as compared here: `urn:uuid:` and `urn:oid:` with their scheme in lower case, and the UUID
 * too (RFC 4122: hex digits are case-insensitive on input); anything else as written.
 */
export function normalUri(uri: string): string {
  const head = uri.slice(0, 9).toLowerCase();
  if (head === 'urn:uuid:') return uri.toLowerCase();
  if (head.startsWith('urn:oid:')) return `urn:oid:${uri.slice(8)}`;
  return uri;
}

/**
 * What an entry's fullUrl says of its resource: the id it gives one sent without an id (the UUID
 * of `urn:uuid:`, the OID of `urn:oid:`, the id of a RESTful `…/Type/id`), and whether it may name
 * the entry at all. A RESTful fullUrl that disagrees with the resource's type or id (R4: it "SHALL
 * NOT disagree with the id in the resource") names nothing: a Patient filed at `…/Observation/7`
 * is not what a reference to that URL means.
 */
function readFullUrl(fullUrl: string, resource: FhirResource): { usable: boolean; id?: string } {
  const restful = RESTFUL.exec(fullUrl);
  if (restful) {
    const agrees = restful[1] === resource.resourceType && (!resource.id || resource.id === restful[2]);
    return agrees ? { usable: true, id: restful[2] } : { usable: false };
  }
  const uri = normalUri(fullUrl);
  const id = uri.startsWith('urn:uuid:') ? uri.slice(9) : uri.startsWith('urn:oid:') ? uri.slice(8) : undefined;
  return { usable: true, ...(id !== undefined && FHIR_ID.test(id) ? { id } : {}) };
}

/** Whether a reference is absolute (a URI with a scheme: `urn:uuid:…`, `https://…`), not `Type/id` or `#id`. */
function isAbsolute(reference: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(reference);
}

/** The references the engine follows (whose patient, which drug): resolved within a Bundle. */
const FOLLOWED = ['subject', 'patient', 'medicationReference'] as const;

/** The reference string of `field` (a Reference) in `resource`, when there is one. */
function referenceIn(resource: FhirResource, field: (typeof FOLLOWED)[number]): string | undefined {
  const value: unknown = (resource as unknown as Record<string, unknown>)[field];
  const ref: unknown = value && typeof value === 'object' ? (value as Reference).reference : undefined;
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * The entries' resources, with the references the engine follows resolved within the Bundle as
 * FHIR R4 says ("Resolving references in Bundles"): an absolute reference (`urn:uuid:…`,
 * `urn:oid:…`, a URL) names the entry whose fullUrl it equals, and is rewritten as that resource's
 * `Type/id`, the form the engine reads. A resource sent without an id takes the one its fullUrl
 * gives (readFullUrl), so that a transaction's entries are not all "Observation/(no id)" where the
 * assessment names its evidence. Relative references (`Patient/1`) are left as they are: resolved
 * against the entry's own server, they name the same `Type/id`.
 *
 * What the Bundle does not make certain is left as it was, never guessed: a fullUrl two entries
 * share (R4 bdl-7 forbids it) names neither and gives neither an id; an id a fullUrl gives that
 * another resource of the type already has (its own, or one given first) is not given, since two
 * results under one id would be taken as versions of one; a RESTful fullUrl that disagrees with
 * its resource names nothing. A reference left as it was then names no patient or no known
 * Medication, and the engine says so (`patient-mismatch`, `medication-unknown`). Resources are
 * copied where changed; the input is not modified.
 */
export function resolveEntryReferences(entries: readonly BundleEntry[]): FhirResource[] {
  const out = entries.map((e) => e.resource);
  const absolute = (r: FhirResource): boolean =>
    FOLLOWED.some((field) => {
      const ref = referenceIn(r, field);
      return ref !== undefined && isAbsolute(ref);
    });
  // Most Bundles (searchsets, collections of stored resources) have ids and relative references
  // only: then there is nothing to give and nothing to resolve.
  if (!entries.some((e) => !e.resource.id && e.fullUrl !== undefined) && !out.some(absolute)) return out;
  const read = entries.map((e) => (e.fullUrl === undefined ? undefined : readFullUrl(e.fullUrl, e.resource)));
  // Each fullUrl as compared, once: entries sharing one (after normalUri) name neither.
  const urls = entries.map((e) => (e.fullUrl === undefined ? undefined : normalUri(e.fullUrl)));
  const sharing = new Map<string, number>();
  for (const url of urls) if (url !== undefined) sharing.set(url, (sharing.get(url) ?? 0) + 1);
  const unique = (i: number): boolean => {
    const url = urls[i];
    return url !== undefined && read[i]?.usable === true && sharing.get(url) === 1;
  };
  // Ids given from fullUrls, only where no resource of the type has that id already.
  const taken = new Set(out.filter((r) => r.id).map((r) => `${r.resourceType}/${r.id ?? ''}`));
  out.forEach((resource, i) => {
    const id = read[i]?.id;
    if (resource.id || id === undefined || !unique(i) || taken.has(`${resource.resourceType}/${id}`)) return;
    taken.add(`${resource.resourceType}/${id}`);
    out[i] = { ...resource, id };
  });
  if (!out.some(absolute)) return out;
  const byFullUrl = new Map<string, string>();
  out.forEach(({ resourceType, id }, i) => {
    const url = urls[i];
    if (url !== undefined && id && unique(i)) byFullUrl.set(url, `${resourceType}/${id}`);
  });
  for (let i = 0; i < out.length; i++) {
    for (const field of FOLLOWED) {
      const ref = referenceIn(out[i] as FhirResource, field);
      if (ref === undefined || !isAbsolute(ref)) continue;
      const key = byFullUrl.get(normalUri(ref));
      if (key === undefined) continue;
      const resource = out[i] as FhirResource & Partial<Record<(typeof FOLLOWED)[number], Reference>>;
      out[i] = { ...resource, [field]: { ...resource[field], reference: key } };
    }
  }
  return out;
}

/** The patient a resource belongs to (Patient.id, or its subject/patient reference). */
export function ownerOf(r: FhirResource): string | undefined {
  if (r.resourceType === 'Patient') return r.id;
  const holder = r as { subject?: { reference?: string }; patient?: { reference?: string } };
  return patientIdOf(holder.subject ?? holder.patient);
}

/** Groups resources by patient; resources naming no patient go to every group (e.g. Medication). */
export function groupByPatient(resources: Iterable<FhirResource>): Map<string, FhirResource[]> {
  const groups = new Map<string, FhirResource[]>();
  const shared: FhirResource[] = [];
  for (const r of resources) {
    const owner = ownerOf(r);
    if (!owner) {
      if (r.resourceType === 'Medication') shared.push(r);
      continue;
    }
    const list = groups.get(owner);
    if (list) list.push(r);
    else groups.set(owner, [r]);
  }
  if (shared.length > 0) for (const list of groups.values()) list.push(...shared);
  return groups;
}
