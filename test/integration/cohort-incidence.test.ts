/**
 * The engine reproduces the seeds on synthetic data: a cohort built by the demo generator with the
 * seeds' incidences (Wang et al. 2021: new-onset SN 70%, SA 53%, ST 48%, PHT 25%; immune-reconstitution thesis: grade ≥ 3
 * neutropenia 97% of CR patients, IgG decline 82%) is assessed by the CLI over FHIR Bulk Data
 * NDJSON, and comes back with those rates within sampling error and with each patient's planned
 * course recognised.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { Assessment, Lineage } from '../../src/clinical/types.js';
import { writeBulkExport } from '../../src/demo/bulk-export.js';
import { generateCohort, type PatientPlan } from '../../src/demo/generator.js';

const N = 400;
const TODAY = '2026-11-22';
const run = promisify(execFile);

let plans: PatientPlan[];
let results: Assessment[];

beforeAll(async () => {
  const cohort = generateCohort({ n: N, seed: 2002, today: TODAY, followUpDays: 60 });
  plans = cohort.plans;
  const folder = mkdtempSync(join(tmpdir(), 'cohort-'));
  await writeBulkExport(folder, cohort.resources.flat());
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/assess.ts', 'assess', folder, '--as-of', TODAY, '--format', 'json'],
    { maxBuffer: 1 << 30 },
  );
  expect(stderr).toContain(`assessed ${N} patient(s)`);
  results = JSON.parse(stdout) as Assessment[];
}, 120_000);

const newOnset = (a: Assessment, l: Lineage): boolean => a.severeCytopenias.some((e) => e.lineage === l && e.newOnset);
const before = (a: Assessment, l: Lineage): boolean => a.severeCytopenias.some((e) => e.lineage === l && !e.newOnset);

/** Within 3 standard errors of the seed rate for this denominator. */
function expectWithinSamplingError(observed: number, denominator: number, seedRate: number): void {
  const se = Math.sqrt((seedRate * (1 - seedRate)) / denominator);
  expect(Math.abs(observed - seedRate)).toBeLessThanOrEqual(3 * se);
}

describe('incidences reproduced from the CLI output', () => {
  test.each<[string, Lineage, number]>([
    ['new-onset severe neutropenia 70% (Wang et al. 2021: 39/56)', 'neutrophil', 0.7],
    ['new-onset severe anemia 53% (Wang et al. 2021: 35/66)', 'hemoglobin', 0.53],
    ['new-onset severe thrombocytopenia 48% (Wang et al. 2021: 31/64)', 'platelet', 0.48],
  ])('%s', (_name, lineage, seedRate) => {
    const eligible = results.filter((a) => !before(a, lineage));
    const rate = eligible.filter((a) => newOnset(a, lineage)).length / eligible.length;
    expectWithinSamplingError(rate, eligible.length, seedRate);
  });

  test('prolonged hematologic toxicity 25% (Wang et al. 2021: 19/76), judged for every patient', () => {
    expect(results.every((a) => a.prolongedHematologicToxicity !== null)).toBe(true);
    const rate = results.filter((a) => a.prolongedHematologicToxicity).length / N;
    expectWithinSamplingError(rate, N, 0.25);
  });

  test('grade ≥ 3 neutropenia 97% (immune-reconstitution thesis: 38/39 CR patients)', () => {
    const rate = results.filter((a) => (a.ctcae.neutrophils.worst ?? 0) >= 3).length / N;
    expectWithinSamplingError(rate, N, 0.974);
  });

  test('IgG decline 82% (immune-reconstitution thesis: 18/22)', () => {
    const rate = results.filter((a) => a.immunoglobulins.IgG.decline).length / N;
    expectWithinSamplingError(rate, N, 0.818);
  });
});

describe('each patient recognised as planned', () => {
  const byId = (): Map<string, Assessment> => new Map(results.map((a) => [a.patientId, a]));
  test.each<[string, (p: PatientPlan, a: Assessment) => [unknown, unknown]]>([
    [
      'severe neutropenia: new-onset or before infusion',
      (p, a) => [
        p.neutrophils.severe ? (p.neutrophils.beforeInfusion ? 'before' : 'new') : 'none',
        before(a, 'neutrophil') ? 'before' : newOnset(a, 'neutrophil') ? 'new' : 'none',
      ],
    ],
    [
      'severe thrombocytopenia',
      (p, a) => [
        p.platelets.severe ? (p.platelets.beforeInfusion ? 'before' : 'new') : 'none',
        before(a, 'platelet') ? 'before' : newOnset(a, 'platelet') ? 'new' : 'none',
      ],
    ],
    [
      'severe anemia',
      (p, a) => [
        p.hemoglobin.severe ? (p.hemoglobin.beforeInfusion ? 'before' : 'new') : 'none',
        before(a, 'hemoglobin') ? 'before' : newOnset(a, 'hemoglobin') ? 'new' : 'none',
      ],
    ],
    ['PHT', (p, a) => [p.pht, a.prolongedHematologicToxicity]],
    ['grade ≥ 3 neutropenia', (p, a) => [p.grade3Neutropenia, (a.ctcae.neutrophils.worst ?? 0) >= 3]],
    ['IgG decline', (p, a) => [p.immunoglobulins.igg.decline, a.immunoglobulins.IgG.decline]],
    ['neutrophil recovery phenotype', (p, a) => [p.phenotype, a.icaht.phenotype]],
    ['CRS grade', (p, a) => [p.crs.grade || null, a.crs.crs.grade]],
  ])('%s: engine agrees with the generator plan for all %#', (_name, pick) => {
    const assessments = byId();
    const mismatches = plans.flatMap((p) => {
      const [planned, found] = pick(p, assessments.get(p.id) as Assessment);
      return planned === found ? [] : [`${p.id}: planned ${String(planned)}, found ${String(found)}`];
    });
    expect(mismatches).toEqual([]);
  });

  test('ANC nadir falls around day 5 (Wang et al. 2021: incidence of cytopenia peaks near day 5)', () => {
    const nadirDays = results
      .flatMap((a) => a.severeCytopenias.filter((e) => e.lineage === 'neutrophil' && e.newOnset).map((e) => e.onsetDay))
      .sort((x, y) => x - y);
    const median = nadirDays[Math.floor(nadirDays.length / 2)] ?? 0;
    expect(median).toBeGreaterThanOrEqual(1);
    expect(median).toBeLessThanOrEqual(6);
  });
});
