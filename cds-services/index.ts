/**
 * The CDS services this server offers, one file each; discovery (GET /cds-services) is generated from this list.
 */
import type { CdsServiceDefinition } from '../src/cds-hooks/service.js';
import type { HookName } from '../src/cds-hooks/schemas.js';
import type { ClinicalContext } from '../src/profiles.js';
import type { ServiceDeps } from '../src/service-deps.js';
import { orderSelectService } from './order-select-hematotox.js';
import { orderSignService } from './order-sign-hematotox.js';
import { patientViewService } from './patient-view-hematotox.js';

export function cdsServices(clinical: ClinicalContext): CdsServiceDefinition<HookName, ServiceDeps>[] {
  return [patientViewService(clinical), orderSignService(clinical), orderSelectService(clinical)];
}
