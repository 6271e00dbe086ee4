/**
 * Engine benchmark: microseconds per Observation for patients with 500, 5,000 and 50,000
 * Observations (a year of labs is about 5,000), and the ratio to a baseline measured in the same
 * process: one JSON round trip of the same resources, which is the least any consumer pays to
 * receive them. Run: npx tsx bench/engine.ts
 */
import type { FhirResource, Observation } from 'fhir/r4.js';
import { assess } from '../src/clinical/assess.js';
import { buildTerminology } from '../src/clinical/terminology.js';
import { patientResources, planPatient } from '../src/demo/generator.js';
import { Rng } from '../src/demo/kinetics.js';
import { loadValueSets } from '../src/profiles.js';

const TODAY = '2026-11-22';
const terminology = buildTerminology(loadValueSets());

/** A patient one year after infusion, with extra blood counts drawn through the day to reach `n` Observations. */
function patientWith(n: number): FhirResource[] {
  const rng = new Rng(7);
  const plan = planPatient(rng, { id: 'bench', today: TODAY, dayPostInfusion: 365 });
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

function timeIt(fn: () => void, minMs = 600): number {
  // Warm up until the JIT has settled, then time.
  for (const warm = performance.now(); performance.now() - warm < 300;) fn();
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || runs < 3) {
    fn();
    runs++;
  }
  return (performance.now() - start) / runs;
}

console.log('observations | engine ms | µs per observation | baseline ms (JSON round trip) | engine / baseline');
for (const n of [500, 5000, 50000]) {
  const resources = patientWith(n);
  const observations = resources.filter((r) => r.resourceType === 'Observation').length;
  const engine = timeIt(() => assess(resources, { asOf: TODAY, terminology }));
  const baseline = timeIt(() => {
    JSON.parse(JSON.stringify(resources));
  });
  console.log(
    `${String(observations).padStart(12)} | ${engine.toFixed(2).padStart(9)} | ${((engine * 1000) / observations).toFixed(2).padStart(18)} | ${baseline.toFixed(2).padStart(29)} | ${(engine / baseline).toFixed(2).padStart(16)}`,
  );
}
