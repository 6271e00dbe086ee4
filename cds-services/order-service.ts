/**
 * What order-sign and order-select share (pharmacists and prescribers): advice on draft orders for
 * a patient after CAR-T. Tocilizumab or a corticosteroid → cytopenia-risk information with a CBC suggestion
 * (never a card that blocks CRS treatment); a red cell or platelet transfusion from day −7 to +90
 * that is not irradiated → switch to an irradiated product (EHA/EBMT); G-CSF with ANC above the
 * threshold and no high-risk indication → information. Orders we never advise on cost nothing: the
 * service answers at once without reading patient data.
 */
import { orderCards, ordersWeAdviseOn, type DraftOrder } from '../src/cards/orders.js';
import type { CdsServiceDefinition, ContextFor } from '../src/cds-hooks/service.js';
import type { ClinicalContext } from '../src/profiles.js';
import { assessPrefetched, cardContext } from './assessment.js';
import type { ServiceDeps } from './deps.js';
import { hematotoxPrefetch } from './patient-view-hematotox.js';

/** What the order services advise on, with the hospital's irradiation window (for discovery). */
export function orderAdvice(clinical: ClinicalContext): string {
  const a = clinical.thresholds.values.actions;
  return `irradiated blood products from day ${a.irradiatedFromDay} to +${a.irradiatedToDay} (EHA/EBMT), cytopenia risk with tocilizumab or corticosteroids (seeds 000, 002), G-CSF above the neutropenia threshold.`;
}

export function orderService<H extends 'order-sign' | 'order-select'>(
  clinical: ClinicalContext,
  definition: { id: string; hook: H; title: string; description: string },
  ordersOf: (context: ContextFor<H>) => DraftOrder[],
): CdsServiceDefinition<H, ServiceDeps> {
  const advisable = (context: ContextFor<H>, deps: ServiceDeps): DraftOrder[] => ordersWeAdviseOn(ordersOf(context), deps.clinical.terminology);
  return {
    ...definition,
    prefetch: hematotoxPrefetch(clinical),
    requiredPrefetch: ['observations', 'medicationAdministrations', 'procedures'],
    dateBoundedPrefetch: { observations: 'date' },
    relevant: (context, deps) => advisable(context, deps).length > 0,
    handler: async ({ context, data }, deps) => {
      const assessment = assessPrefetched(data, context.patientId, deps);
      const cards = orderCards(assessment, advisable(context, deps), deps.clinical.terminology, deps.clinical.thresholds, cardContext(definition.id, context.patientId, deps));
      return Promise.resolve({ cards });
    },
  };
}

