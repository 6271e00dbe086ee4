/**
 * Reading FHIR input for assessments: a Bundle (collection, searchset, transaction, batch) as sent
 * to POST /assessments or given to the CLI, and FHIR Bulk Data NDJSON files grouped by patient.
 */
import type { FhirResource } from 'fhir/r4.js';
import { z } from 'zod';
import { patientIdOf } from '../clinical/record.js';
import { screenResources, type Screened } from './resource-schemas.js';

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
 * resource left out (entries without a resource are skipped).
 */
export function bundleResources(bundle: z.infer<typeof assessmentBundleSchema>): Screened {
  return screenResources(
    (bundle.entry ?? []).map((e) => (e as { resource?: unknown } | null)?.resource).filter((r) => r !== undefined),
  );
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
