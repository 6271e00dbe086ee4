/**
 * Draft orders as EHRs send them (order-sign, order-select): each entry of `draftOrders` screened
 * on its own, and each MedicationRequest's medication resolved from wherever the EHR put it:
 * `medicationCodeableConcept`, a contained Medication (`#id`), a Medication entry of the same
 * Bundle, or a Medication read from `fhirServer` within the call's deadline and byte caps.
 */
import type { CodeableConcept, Medication, MedicationRequest } from 'fhir/r4.js';
import type { Logger } from 'pino';
import { adviseOn, type AdvisableOrder, type DraftOrder } from '../src/cards/orders.js';
import type { FhirReader } from '../src/cds-hooks/service.js';
import type { Terminology } from '../src/clinical/terminology.js';
import type { AssessmentIssue } from '../src/clinical/types.js';
import { describeResource, MAX_ECHOED_DEPTH, nestedDeeperThan, screenResource } from '../src/fhir/resource-schemas.js';

export interface DraftOrders {
  orders: DraftOrder[];
  /** Medications of the Bundle, by `Medication/id` and by fullUrl. */
  medications: Map<string, Medication>;
  /** Entries left out because they did not have the shape we read. */
  issues: AssessmentIssue[];
}

/** The draft orders of the context Bundle; for order-select, only the selected ones. */
export function readDraftOrders(
  bundle: { entry?: unknown[] | undefined },
  selections?: readonly string[],
): DraftOrders {
  const orders: DraftOrder[] = [];
  const medications = new Map<string, Medication>();
  const issues: AssessmentIssue[] = [];
  for (const entry of bundle.entry ?? []) {
    const resource = (entry as { resource?: unknown } | null)?.resource;
    if (resource === undefined) continue;
    // An order may be echoed back in an update suggestion: one nested past what a response can carry is left out.
    if (nestedDeeperThan(resource, MAX_ECHOED_DEPTH)) {
      issues.push({
        severity: 'warning',
        code: 'resource-invalid',
        message: `draft order nested deeper than ${MAX_ECHOED_DEPTH} levels; resource left out`,
        resource: describeResource(resource),
      });
      continue;
    }
    const result = screenResource(resource);
    if (!result.ok) {
      issues.push({ ...result.issue, message: `draft order ${result.issue.message}` });
      continue;
    }
    const r = result.resource;
    if (r.resourceType === 'Medication') {
      if (r.id) medications.set(`Medication/${r.id}`, r);
      const fullUrl = (entry as { fullUrl?: unknown }).fullUrl;
      if (typeof fullUrl === 'string') medications.set(fullUrl, r);
    } else if (r.resourceType === 'MedicationRequest' || r.resourceType === 'ServiceRequest') orders.push(r);
  }
  const selected = selections ? orders.filter((o) => selections.includes(`${o.resourceType}/${o.id ?? ''}`)) : orders;
  return { orders: selected, medications, issues };
}

/** The medication concept of an order, or undefined when it cannot be had (the card may still match by name). */
async function medicationConcept(
  order: MedicationRequest,
  drafts: DraftOrders,
  fhir: FhirReader,
  log: Logger,
): Promise<CodeableConcept | undefined> {
  if (order.medicationCodeableConcept) return order.medicationCodeableConcept;
  const ref = order.medicationReference?.reference;
  if (!ref) return undefined;
  if (ref.startsWith('#'))
    return (
      order.contained?.find((c) => c.resourceType === 'Medication' && c.id === ref.slice(1)) as Medication | undefined
    )?.code;
  const inBundle = drafts.medications.get(ref);
  if (inBundle) return inBundle.code;
  if (!/^Medication\/[A-Za-z0-9\-.]{1,64}$/.test(ref)) return undefined;
  try {
    const read = screenResource(await fhir.read(ref));
    return read.ok && read.resource.resourceType === 'Medication' ? read.resource.code : undefined;
  } catch (error) {
    log.warn(
      { reason: (error as Error).message },
      'the Medication of a draft order could not be read; matching it by name only',
    );
    return undefined;
  }
}

/** The draft orders this service advises on (CRS drugs, G-CSF, blood products). */
export async function advisableOrders(
  drafts: DraftOrders,
  terminology: Terminology,
  fhir: FhirReader,
  log: Logger,
): Promise<AdvisableOrder[]> {
  const matched = await Promise.all(
    drafts.orders.map(async (order) =>
      adviseOn(
        order,
        order.resourceType === 'MedicationRequest' ? await medicationConcept(order, drafts, fhir, log) : undefined,
        terminology,
      ),
    ),
  );
  return matched.filter((m): m is AdvisableOrder => m !== undefined);
}
