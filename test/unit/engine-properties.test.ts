/**
 * The engine is pure and deterministic for a given input and asOf, bad input is reported and
 * never fatal, and the demo generator is deterministic.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { assess } from '../../src/clinical/assess.js';
import { demoPatients } from '../../src/demo/demo-patients.js';
import { generateCohort } from '../../src/demo/generator.js';
import { anc, assessOn, hb, infusion, obs, testTerminology } from '../helpers/fhir.js';

const TODAY = '2026-11-22';

describe('purity and determinism', () => {
  test('same input and asOf → same assessment; the input is not modified', () => {
    const { resources } = demoPatients(TODAY).find((p) => p.scenario.id === 'cart-biphasic') ?? { resources: [] };
    const before = JSON.stringify(resources);
    const a = assess(resources, { asOf: TODAY, terminology: testTerminology() });
    const b = assess([...resources].reverse(), { asOf: TODAY, terminology: testTerminology() });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(resources)).toBe(before);
  });

  test('nothing after asOf is used', () => {
    const { resources } = demoPatients(TODAY).find((p) => p.scenario.id === 'cart-quick') ?? { resources: [] };
    const early = assess(resources, { asOf: '2026-10-20', terminology: testTerminology() });
    const truncated = resources.filter((r) => !('effectiveDateTime' in r) || String(r.effectiveDateTime) <= '2026-10-20T23:59:59Z');
    expect(assess(truncated, { asOf: '2026-10-20', terminology: testTerminology() }).ctcae).toEqual(early.ctcae);
  });

  test('the engine imports no express, network or file system module', () => {
    const dir = join(process.cwd(), 'src/clinical');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect({ file, imports: text.match(/from '(node:[^']+|fs|path|http|https|express|fhir-kit-client|pino)'/g) }).toEqual({ file, imports: null });
    }
  });
});

describe('bad input is reported, never fatal', () => {
  test('resources of another patient are dropped and reported', () => {
    const a = assessOn(5, [infusion(0), anc(2, 0.3), anc(3, 0.1, { patient: 'someone-else', id: 'x' })]);
    expect(a.ctcae.neutrophils.worst).toBe(4);
    expect(a.ctcae.neutrophils.worstValue?.value).toBe(0.3);
    expect(a.issues).toContainEqual(expect.objectContaining({ code: 'patient-mismatch', resource: 'Observation/x' }));
  });

  test('an unreadable unit is listed and the rest is assessed', () => {
    const a = assessOn(5, [infusion(0), obs('718-7', 8, 'furlongs', 2, { id: 'f' }), hb(3, 55)]);
    expect(a.issues).toContainEqual(expect.objectContaining({ code: 'unit-unreadable', resource: 'Observation/f' }));
    expect(a.recommendations.map((r) => r.kind)).toEqual(['red-cell-transfusion']);
  });

  test('an invalid asOf is refused with a message', () => {
    expect(() => assess([], { asOf: '22/11/2026', terminology: testTerminology() })).toThrow('asOf must be a date');
  });
});

describe('demo generator', () => {
  test('the same seed and date give the same patients', () => {
    const a = generateCohort({ n: 5, seed: 1, today: TODAY, followUpDays: 40 });
    const b = generateCohort({ n: 5, seed: 1, today: TODAY, followUpDays: 40 });
    expect(JSON.stringify(a.resources)).toBe(JSON.stringify(b.resources));
    expect(JSON.stringify(generateCohort({ n: 5, seed: 2, today: TODAY, followUpDays: 40 }).resources)).not.toBe(JSON.stringify(a.resources));
  });

  test('no resource is dated after the reference date', () => {
    for (const p of demoPatients(TODAY)) {
      for (const r of p.resources) {
        const when = (r as { effectiveDateTime?: string; performedDateTime?: string; onsetDateTime?: string }).effectiveDateTime ?? (r as { performedDateTime?: string }).performedDateTime;
        if (when) expect(when.slice(0, 10) <= TODAY).toBe(true);
      }
    }
  });

  test('the named demo scenarios come out as their labels say', () => {
    const byId = new Map(demoPatients(TODAY).map((p) => [p.scenario.id, assess(p.resources, { asOf: TODAY, terminology: testTerminology() })]));
    expect(byId.get('cart-quick')).toMatchObject({ icaht: { phenotype: 'quick' }, prolongedHematologicToxicity: false, recommendations: [] });
    expect(byId.get('cart-biphasic')?.icaht.phenotype).toBe('intermittent');
    expect(byId.get('cart-aplastic')).toMatchObject({ icaht: { phenotype: 'aplastic' }, prolongedHematologicToxicity: true });
    expect(byId.get('cart-day9')?.recommendations.map((r) => r.kind)).toEqual(expect.arrayContaining(['g-csf', 'platelet-transfusion']));
    expect(byId.get('cart-day1-high-risk')?.recommendations.map((r) => r.kind)).toEqual(['g-csf-prophylaxis']);
    expect(byId.get('cart-day200-low-igg')).toMatchObject({ immunoglobulins: { IgG: { belowIvigThreshold: true } }, bCellAplasia: { lossDay: 150, lossPredictsRelapse: true } });
    expect(byId.get('no-cart')).toMatchObject({ infusionDate: null, recommendations: [] });
  });
});
