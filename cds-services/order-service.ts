/**
 * What order-sign and order-select share (pharmacists and prescribers): advice on draft orders for
 * a patient after CAR-T. Tocilizumab or a corticosteroid → cytopenia-risk information with a CBC suggestion
 * (never a card that blocks CRS treatment); a red cell or platelet transfusion from day −7 to +90
 * that is not irradiated → switch to an irradiated product (EHA/EBMT); G-CSF with ANC above the
 * threshold and no high-risk indication → information. Orders we never advise on cost nothing: the
 * service answers at once without reading patient data.
 */
import { orderCards, type AdvisableOrder } from '../src/cards/orders.js';
import type { CdsServiceDefinition, ContextFor, FhirReader } from '../src/cds-hooks/service.js';
import { advisableOrders, type DraftOrders } from './draft-orders.js';
import type { AssessmentIssue } from '../src/clinical/types.js';
import type { ClinicalContext } from '../src/profiles.js';
import { assessPrefetched, cardContext, withRecordMedications } from './assessment.js';
import type { ServiceDeps } from '../src/service-deps.js';
import { hematotoxPrefetch, observationSearches } from './prefetch.js';

/** What the order services advise on, with the hospital's irradiation window (for discovery). */
export function orderAdvice(clinical: ClinicalContext): string {
  const ir = clinical.thresholds.values.irradiation;
  const until = ir.untilDay === null ? 'for life' : `to day +${ir.untilDay}`;
  return `irradiated blood products from ${ir.daysBeforeLeukapheresis} days before leukapheresis ${until} (EHA/EBMT), cytopenia risk with tocilizumab or corticosteroids (Wang et al., Front Oncol 2021), G-CSF above the neutropenia threshold.`;
}

/** The orders advised on, and those that could not be checked (with why) for the card that says so. */
interface Checked {
  orders: AdvisableOrder[];
  notChecked: AssessmentIssue[];
}

export function orderService<H extends 'order-sign' | 'order-select'>(
  clinical: ClinicalContext,
  definition: { id: string; hook: H; title: string; description: string },
  ordersOf: (context: ContextFor<H>) => DraftOrders,
): CdsServiceDefinition<H, ServiceDeps> {
  // relevant() and handler() get the same context object in one call: read the draft orders (and any
  // Medication they reference on fhirServer) once per call, not twice.
  const perCall = new WeakMap<ContextFor<H>, Promise<Checked>>();
  const advisable = (context: ContextFor<H>, deps: ServiceDeps, fhir: FhirReader): Promise<Checked> => {
    let pending = perCall.get(context);
    if (!pending) {
      const drafts = ordersOf(context);
      pending = advisableOrders(drafts, deps.clinical.terminology, fhir).then(({ orders, notChecked }) => ({
        orders,
        notChecked: [...drafts.issues, ...notChecked],
      }));
      perCall.set(context, pending);
    }
    return pending;
  };
  return {
    ...definition,
    // Nothing published: the EHR would otherwise run the patient's whole record of searches for
    // every order signed, although most orders need no advice. The same keys are read from
    // fhirServer (or taken from a prefetch the EHR sends anyway) only for orders we advise on.
    prefetch: {},
    reads: hematotoxPrefetch(clinical),
    fetchAs: { observations: observationSearches(clinical) },
    requiredPrefetch: ['observations', 'medicationAdministrations', 'procedures'],
    dateBoundedPrefetch: { observations: 'date' },
    // A draft order that could not be checked is worth reading the record for: after CAR-T, the
    // clinician is told it was not checked (a card), rather than left to read silence as "nothing to say".
    relevant: async (context, deps, fhir) => {
      const { orders, notChecked } = await advisable(context, deps, fhir);
      return orders.length > 0 || notChecked.length > 0;
    },
    handler: async ({ context, data, fhir }, deps) => {
      const { orders, notChecked } = await advisable(context, deps, fhir);
      const assessment = assessPrefetched(await withRecordMedications(data, fhir), context.patientId, deps, false);
      const cards = orderCards(
        assessment,
        orders,
        deps.clinical.terminology,
        deps.clinical.thresholds,
        cardContext(definition.id, context.patientId, deps),
        notChecked,
      );
      // Not checked and said so on a card after CAR-T; before it (or without one) the orders are no concern of ours.
      if (notChecked.length > 0)
        fhir.log.warn({ notChecked: notChecked.length, cards: cards.length }, 'draft orders not checked');
      return { cards };
    },
  };
}
