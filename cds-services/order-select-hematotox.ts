/**
 * order-select: the same advice as order-sign, for the orders the clinician just selected only
 * (`selections`); the other draft orders are context.
 */
import type { CdsServiceDefinition } from '../src/cds-hooks/service.js';
import type { ClinicalContext } from '../src/profiles.js';
import type { ServiceDeps } from '../src/service-deps.js';
import { readDraftOrders } from './draft-orders.js';
import { orderAdvice, orderService } from './order-service.js';

export const ORDER_SELECT_ID = 'cart-hematotox-order-select';

export function orderSelectService(clinical: ClinicalContext): CdsServiceDefinition<'order-select', ServiceDeps> {
  return orderService(
    clinical,
    {
      id: ORDER_SELECT_ID,
      hook: 'order-select',
      title: 'CAR-T hematotoxicity: order selection',
      description: `For the orders just selected after CAR-T: ${orderAdvice(clinical)}`,
    },
    (context) => readDraftOrders(context.draftOrders, context.patientId, context.selections),
  );
}
