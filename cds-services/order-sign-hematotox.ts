/**
 * order-sign: advice on the draft orders a clinician is about to sign for a patient after CAR-T
 * (see order-service.ts for what is advised).
 */
import type { CdsServiceDefinition } from '../src/cds-hooks/service.js';
import type { ClinicalContext } from '../src/profiles.js';
import type { ServiceDeps } from '../src/service-deps.js';
import { readDraftOrders } from './draft-orders.js';
import { orderAdvice, orderService } from './order-service.js';

export const ORDER_SIGN_ID = 'cart-hematotox-order-sign';

export function orderSignService(clinical: ClinicalContext): CdsServiceDefinition<'order-sign', ServiceDeps> {
  return orderService(
    clinical,
    {
      id: ORDER_SIGN_ID,
      hook: 'order-sign',
      title: 'CAR-T hematotoxicity: orders',
      description: `For orders signed after CAR-T: ${orderAdvice(clinical)}`,
    },
    (context) => readDraftOrders(context.draftOrders, context.patientId),
  );
}
