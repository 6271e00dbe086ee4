/**
 * Reading FHIR input for assessments: a Bundle (collection, searchset, transaction, batch) as sent
 * to POST /assessments or given to the CLI, and FHIR Bulk Data NDJSON files grouped by patient.
 */
import type { FhirResource } from 'fhir/r4.js';
import { z } from 'zod';
import { patientIdOf } from '../clinical/record.js';

const resource = z.looseObject({ resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/, 'must be a FHIR resource type'), id: z.string().optional() });

export const assessmentBundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.enum(['collection', 'searchset', 'transaction', 'batch', 'document', 'transaction-response', 'batch-response'], {
    error: 'must be collection, searchset, transaction or batch',
  }),
  entry: z.array(z.looseObject({ resource: resource.optional() })).optional(),
});

/** The resources of a validated Bundle (entries without a resource are skipped). */
export function bundleResources(bundle: z.infer<typeof assessmentBundleSchema>): FhirResource[] {
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource as unknown as FhirResource] : []));
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
