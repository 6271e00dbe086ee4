/**
 * Synthetic inputs shared by the benchmarks: one patient with `n` Observations (a year after
 * infusion, extra blood counts drawn through the day), and a patient-view request prefetching them.
 */
import type { Bundle, FhirResource, Observation } from 'fhir/r4.js';
import { patientResources, planPatient } from '../../src/demo/generator.js';
import { Rng } from '../../src/demo/kinetics.js';

export const TODAY = '2026-11-22';

/** A patient one year after infusion, with extra blood counts drawn through the day to reach `n` Observations. */
export function patientWith(n: number, id = 'bench'): FhirResource[] {
  const rng = new Rng(7);
  const plan = planPatient(rng, { id, today: TODAY, dayPostInfusion: 365 });
  const base = patientResources(plan, rng, TODAY);
  const observations = base.filter((r): r is Observation => r.resourceType === 'Observation');
  const others = base.filter((r) => r.resourceType !== 'Observation');
  const out: FhirResource[] = [...others];
  for (let i = 0; out.length - others.length < n; i++) {
    const source = observations[i % observations.length] as Observation;
    const round = Math.floor(i / observations.length);
    const hour = String(round % 24).padStart(2, '0');
    out.push({
      ...source,
      id: `${source.id ?? 'o'}-r${round}`,
      effectiveDateTime: `${(source.effectiveDateTime ?? TODAY).slice(0, 10)}T${hour}:${String(round % 60).padStart(2, '0')}:00Z`,
    });
  }
  return out;
}

function searchset(resources: FhirResource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource })),
  };
}

/** A patient-view call with every key of the service's prefetch given. */
export function patientViewBody(resources: FhirResource[], patientId = 'bench'): string {
  const of = (type: string): FhirResource[] => resources.filter((r) => r.resourceType === type);
  return JSON.stringify({
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    context: { userId: 'Practitioner/bench', patientId },
    prefetch: {
      patient: of('Patient')[0],
      observations: searchset(of('Observation')),
      medicationAdministrations: searchset(of('MedicationAdministration')),
      procedures: searchset(of('Procedure')),
      conditions: searchset(of('Condition')),
    },
  });
}
