/**
 * Reading FHIR input for assessments: a Bundle (collection, searchset, transaction, batch) as sent
 * to POST /assessments or given to the CLI, and FHIR Bulk Data NDJSON files grouped by patient.
 */
import type { FhirResource, Reference } from 'fhir/r4.js';
import { z } from 'zod';
import { patientIdOf } from '../clinical/record.js';
import { screenResource, type Screened } from './resource-schemas.js';

export const assessmentBundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.enum(
    ['collection', 'searchset', 'transaction', 'batch', 'document', 'transaction-response', 'batch-response'],
    {
      error: 'must be collection, searchset, transaction or batch',
    },
  ),
  /** Entries are screened one by one (see bundleResources): one bad resource costs that resource. */
  entry: z.array(z.unknown()).optional(),
});

/**
 * The resources of a validated Bundle that have the shape the engine reads, and one issue per
 * resource left out (entries without a resource are skipped). References between entries are
 * resolved through their fullUrls (see resolveEntryReferences): a transaction Bundle names its
 * Patient and Medications by `urn:uuid:`.
 */
export function bundleResources(bundle: z.infer<typeof assessmentBundleSchema>): Screened {
  const kept: BundleEntry[] = [];
  const issues: Screened['issues'] = [];
  for (const value of bundle.entry ?? []) {
    const entry = value as { resource?: unknown; fullUrl?: unknown } | null;
    if (entry?.resource === undefined) continue;
    const result = screenResource(entry.resource);
    if (!result.ok) issues.push(result.issue);
    else
      kept.push({ resource: result.resource, fullUrl: typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined });
  }
  return { resources: resolveEntryReferences(kept), issues };
}

export interface BundleEntry {
  resource: FhirResource;
  fullUrl: string | undefined;
}

/** A FHIR id (R4 datatypes: `[A-Za-z0-9\-.]{1,64}`). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * The id an entry's fullUrl gives a resource sent without one: the UUID of `urn:uuid:`, the OID of
 * `urn:oid:`, or the last segment of a RESTful `…/Type/id` (R4 Bundle.entry.fullUrl: the fullUrl
 * "SHALL NOT disagree with the id in the resource").
 */
function idFromFullUrl(fullUrl: string, type: string): string | undefined {
  const lower = fullUrl.toLowerCase();
  const candidate =
    lower.startsWith('urn:uuid:') || lower.startsWith('urn:oid:')
      ? fullUrl.slice(fullUrl.indexOf(':', 4) + 1)
      : new RegExp(`/${type}/([^/]+)$`).exec(fullUrl)?.[1];
  return candidate !== undefined && FHIR_ID.test(candidate) ? candidate : undefined;
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
 * gives (idFromFullUrl). Relative references (`Patient/1`) are left as they are: resolved against
 * the entry's own server, they name the same `Type/id`. A reference that names no entry is left as
 * it is (the engine then says it names no patient, or a Medication it does not have). Resources
 * are copied where changed; the input is not modified.
 */
export function resolveEntryReferences(entries: readonly BundleEntry[]): FhirResource[] {
  // A resource sent without an id is known by the one its fullUrl gives: a transaction's entries
  // would otherwise all be "Observation/(no id)" wherever the assessment names its evidence.
  const out = entries.map(({ resource, fullUrl }) => {
    if (resource.id || fullUrl === undefined) return resource;
    const id = idFromFullUrl(fullUrl, resource.resourceType);
    return id === undefined ? resource : { ...resource, id };
  });
  // Most Bundles (searchsets, Bulk Data) use relative references only: then nothing to resolve.
  const absolute = (r: FhirResource): boolean =>
    FOLLOWED.some((field) => {
      const ref = referenceIn(r, field);
      return ref !== undefined && isAbsolute(ref);
    });
  if (!out.some(absolute)) return out;
  const byFullUrl = new Map<string, string>();
  entries.forEach((e, i) => {
    const { resourceType, id } = out[i] as FhirResource;
    if (e.fullUrl !== undefined && id && !byFullUrl.has(e.fullUrl)) byFullUrl.set(e.fullUrl, `${resourceType}/${id}`);
  });
  for (let i = 0; i < out.length; i++) {
    for (const field of FOLLOWED) {
      const ref = referenceIn(out[i] as FhirResource, field);
      if (ref === undefined || !isAbsolute(ref)) continue;
      const key = byFullUrl.get(ref);
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
