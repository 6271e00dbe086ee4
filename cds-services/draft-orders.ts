/**
 * Draft orders as EHRs send them (order-sign, order-select): each entry of `draftOrders` screened
 * on its own, and each MedicationRequest's medication resolved from wherever the EHR put it:
 * `medicationCodeableConcept`, a contained Medication (`#id`), a Medication entry of the same
 * Bundle, or a Medication read from `fhirServer` within the call's deadline and byte caps.
 *
 * An order that cannot be checked (not the shape we read, for another patient, past the number of
 * orders one call reads) is listed in `issues` and shown on a card (src/cards/orders.ts): an order
 * left out in silence would read as an order with nothing to say.
 */
import type { CodeableConcept, Medication, MedicationRequest } from 'fhir/r4.js';
import { adviseOn, type AdvisableOrder, type DraftOrder } from '../src/cards/orders.js';
import type { FhirReader } from '../src/cds-hooks/service.js';
import type { Terminology } from '../src/clinical/terminology.js';
import type { AssessmentIssue } from '../src/clinical/types.js';
import { medicationKey, namesADrug, patientIdOf } from '../src/clinical/record.js';
import { normalUri } from '../src/fhir/bundle.js';
import { describeResource, MAX_ECHOED_DEPTH, nestedDeeperThan, screenResource } from '../src/fhir/resource-schemas.js';
import { BusyError } from '../src/shared/budget.js';
import { badRequest } from '../src/cds-hooks/outcomes.js';

/**
 * Draft orders one call reads. A signature holds a handful; thousands (a hostile or broken client)
 * would cost a card and possibly a Medication read each. The orders past it are listed as not checked.
 */
export const MAX_DRAFT_ORDERS = 50;
/** Medications one call reads from fhirServer for its draft orders; past it, orders are matched by name. */
export const MAX_MEDICATION_READS = 10;
/**
 * The share of the call's deadline (FHIR_TIMEOUT_MS) a draft order's Medication read may take: a server
 * that hangs on it still leaves the rest to read the patient's record, and the order is listed as
 * not checked.
 */
export const MEDICATION_READ_SHARE = 1 / 3;

export interface DraftOrders {
  orders: DraftOrder[];
  /** Medications of the Bundle, by `Medication/id` and by fullUrl. */
  medications: Map<string, Medication>;
  /** Orders that were not checked: not the shape we read, another patient's, or past MAX_DRAFT_ORDERS. */
  issues: AssessmentIssue[];
}

/**
 * The draft orders of the context Bundle for `patientId`; for order-select, only the selected ones
 * (and of the orders not checked, those selected or whose id could not be read).
 */
export function readDraftOrders(
  bundle: { entry?: unknown[] | undefined },
  patientId: string,
  selections?: readonly string[],
): DraftOrders {
  const orders: DraftOrder[] = [];
  const medications = new Map<string, Medication>();
  const issues: AssessmentIssue[] = [];
  /**
   * What a selection may name each order by, checked or not: `Type/id`, and its entry's fullUrl (a
   * draft often has no id yet; a urn:uuid compared in lower case, as UUIDs are).
   */
  const namesOf = new Map<unknown, string[]>();
  /** Every name an entry goes by, and whether one goes by none (a selection may then be it). */
  const named = new Set<string>();
  let nameless = false;
  for (const entry of bundle.entry ?? []) {
    const resource = (entry as { resource?: unknown } | null)?.resource;
    if (resource === undefined) continue;
    const names = [describeResource(resource)].filter((name) => name.includes('/'));
    const fullUrl = (entry as { fullUrl?: unknown }).fullUrl;
    if (typeof fullUrl === 'string') names.push(normalUri(fullUrl));
    for (const name of names) named.add(name);
    if (names.length === 0) nameless = true;
    const unchecked = (issue: AssessmentIssue): void => {
      issues.push(issue);
      namesOf.set(issue, names);
    };
    // An order may be echoed back in an update suggestion: one nested past what a response can carry is left out.
    if (nestedDeeperThan(resource, MAX_ECHOED_DEPTH)) {
      unchecked({
        severity: 'warning',
        code: 'resource-invalid',
        message: `draft order nested deeper than ${MAX_ECHOED_DEPTH} levels; resource left out`,
        resource: describeResource(resource),
      });
      continue;
    }
    const result = screenResource(resource);
    if (!result.ok) {
      unchecked({ ...result.issue, message: `draft order ${result.issue.message}` });
      continue;
    }
    const r = result.resource;
    if (r.resourceType === 'Medication') {
      if (r.id) medications.set(`Medication/${r.id}`, r);
      if (typeof fullUrl === 'string') medications.set(fullUrl, r);
    } else if (r.resourceType === 'MedicationRequest' || r.resourceType === 'ServiceRequest') {
      const owner = r.subject ? patientIdOf(r.subject) : patientId;
      if (owner === patientId) {
        orders.push(r);
        namesOf.set(r, names);
      } else
        unchecked({
          severity: 'warning',
          code: 'patient-mismatch',
          message: `draft order ${owner ? 'is for another patient' : 'names no patient we can read'}, not the patient of this call; not checked`,
          resource: describeResource(r),
        });
    }
  }
  // An order with neither a usable id nor a fullUrl cannot be told apart from the selected ones: it is
  // checked, or said not to be.
  const chosen = selections && new Set(selections.map(normalUri));
  // A selection that names nothing in draftOrders is a malformed call, not one with nothing to say.
  const unknown = nameless ? -1 : (selections ?? []).findIndex((s) => !named.has(normalUri(s)));
  if (unknown >= 0)
    throw badRequest(
      `context.selections[${unknown}] names no resource in context.draftOrders`,
      `context.selections[${unknown}]`,
    );
  const isSelected = (item: unknown): boolean => {
    const names = namesOf.get(item) ?? [];
    return !chosen || names.length === 0 || names.some((name) => chosen.has(name));
  };
  const selected = orders.filter(isSelected);
  const shown = issues.filter(isSelected);
  for (const order of selected.slice(MAX_DRAFT_ORDERS))
    shown.push({
      severity: 'warning',
      code: 'too-many-orders',
      message: `draft order past the ${MAX_DRAFT_ORDERS} one call checks; not checked`,
      resource: describeResource(order),
    });
  return { orders: selected.slice(0, MAX_DRAFT_ORDERS), medications, issues: shown };
}

/** Medications read from fhirServer in one call, and those that could not be or were not read. */
interface MedicationReads {
  /** The references read (each once: CallFhirAccess shares one read among the orders naming it). */
  started: Set<string>;
  /** The references whose read failed (one Medication named by 20 orders counts once). */
  failed: Set<string>;
  skipped: number;
  /** Why the first read that failed did (a FhirAccessError names type and status, never an id). */
  firstFailure?: string;
}

/** An order's medication concept, or why it could not be had from fhirServer (undefined: nowhere to look). */
type Resolved = { concept: CodeableConcept | undefined } | { unresolved: string };

/** A Medication's or order's drug concept when it names one, else `why` (an empty concept is not some other drug). */
const drug = (code: CodeableConcept | undefined, why: string): Resolved =>
  code && namesADrug(code) ? { concept: code } : { unresolved: why };

/** The medication concept of an order, or why it could not be had (the card may still match by name). */
async function medicationConcept(
  order: MedicationRequest,
  drafts: DraftOrders,
  fhir: FhirReader,
  reads: MedicationReads,
): Promise<Resolved> {
  const cc = order.medicationCodeableConcept;
  if (cc) return drug(cc, 'its drug is empty (no code, no name)');
  const ref = order.medicationReference?.reference;
  // Unresolved, the order is still matched by name (its reference's display, if any), else said not checked.
  if (!ref) return { unresolved: 'its drug names no Medication' };
  if (ref.startsWith('#')) {
    const contained = order.contained?.find((c) => c.resourceType === 'Medication' && c.id === ref.slice(1)) as
      Medication | undefined;
    if (!contained) return { unresolved: 'its contained Medication is missing' };
    return drug(contained.code, 'its contained Medication has no drug code');
  }
  // A reference relative, absolute or with a version names `Medication/<id>` (as the record's do).
  const key = medicationKey(ref);
  const inBundle = drafts.medications.get(ref) ?? (key ? drafts.medications.get(key) : undefined);
  if (inBundle) return drug(inBundle.code, 'its Medication has no drug code');
  if (!key)
    return {
      unresolved: /^urn:/i.test(ref)
        ? 'its drug reference names nothing in the data received'
        : 'its drug reference is not to a Medication',
    };
  return readMedication(key, fhir, reads);
}

/** A draft order's Medication read from fhirServer (once per call), or why it could not be. */
async function readMedication(ref: string, fhir: FhirReader, reads: MedicationReads): Promise<Resolved> {
  if (!reads.started.has(ref)) {
    if (reads.started.size >= MAX_MEDICATION_READS) {
      reads.skipped++;
      return { unresolved: `its Medication was not read: past the ${MAX_MEDICATION_READS} one call reads` };
    }
    reads.started.add(ref);
  }
  try {
    const read = screenResource(
      await fhir.read(ref, { timeoutMs: Math.round(fhir.deadlineMs * MEDICATION_READ_SHARE) }),
    );
    if (!read.ok || read.resource.resourceType !== 'Medication')
      return { unresolved: 'its Medication on fhirServer was not found or not a Medication we can read' };
    // Another Medication (another id, or none) is not the drug ordered, whatever it is coded as: the
    // record's Medications are likewise kept only when their id is the one asked for (askedMedications).
    if (read.resource.id !== ref.slice('Medication/'.length))
      return { unresolved: 'its Medication read from fhirServer came back as another Medication (a different id)' };
    return drug(read.resource.code, 'its Medication has no drug code');
  } catch (error) {
    if (error instanceof BusyError) throw error; // the whole call is refused (503), not signed unchecked
    reads.failed.add(ref);
    reads.firstFailure ??= error instanceof Error ? error.message : 'unknown error';
    return { unresolved: 'its Medication could not be read from fhirServer' };
  }
}

/**
 * The draft orders this service advises on (CRS drugs, G-CSF, blood products), and those it could
 * not check because their Medication could not be had and their name says nothing we know.
 */
export async function advisableOrders(
  drafts: DraftOrders,
  terminology: Terminology,
  fhir: FhirReader,
): Promise<{ orders: AdvisableOrder[]; notChecked: AssessmentIssue[] }> {
  const reads: MedicationReads = { started: new Set(), failed: new Set(), skipped: 0 };
  const checked = await Promise.all(
    drafts.orders.map(async (order) => {
      const resolved =
        order.resourceType === 'MedicationRequest'
          ? await medicationConcept(order, drafts, fhir, reads)
          : { concept: undefined };
      const advised = adviseOn(order, 'concept' in resolved ? resolved.concept : undefined, terminology);
      return { order, advised, unresolved: 'unresolved' in resolved ? resolved.unresolved : undefined };
    }),
  );
  // In the order of the drafts (the reads end in any order).
  const notChecked: AssessmentIssue[] = [];
  for (const { order, advised, unresolved } of checked)
    if (!advised && unresolved)
      notChecked.push({
        severity: 'warning',
        code: 'data-unavailable',
        message: `draft order ${unresolved}, and its name matches nothing this service knows; not checked`,
        resource: describeResource(order),
      });
  if (reads.failed.size > 0 || reads.skipped > 0)
    fhir.log.warn(
      {
        unreadable: reads.failed.size,
        notRead: reads.skipped,
        limit: MAX_MEDICATION_READS,
        reason: reads.firstFailure,
      },
      'Medications of draft orders not read from fhirServer; those orders matched by name only',
    );
  return { orders: checked.flatMap((c) => (c.advised ? [c.advised] : [])), notChecked };
}
