/**
 * Free text that says a blood product is not to be irradiated (docs/clinical-logic.md §10, order cards):
 * properties over any text, since order texts are input.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { saysNotIrradiated, transfusionNamed } from '../../src/cards/orders.js';

describe('saysNotIrradiated', () => {
  // Texts EHRs put in a blood product order's detail or note. By hand: each says the product is not to be
  // irradiated (the irradiation warning must show), or is irradiated with another modifier (no warning).
  test.each([
    'Irradiated product: No',
    'Irradiation is required: no',
    'Irradiated – No',
    'Irradiated, No',
    'Irradiated Product Required? No',
    'Irradiated;No',
    'Irradiated/No',
    'Irradiated [No]',
    'Irradiated：No',
    'Irradiation — not required',
    'Irradiated products not required',
    'Irradiated - Not applicable',
    'Irradiation unnecessary',
    'Irradiation not required per protocol',
    'Irradiation is not required for this patient',
    'Irradiation not needed - autologous',
    'Irradiated: No - standard product',
    'Irradiated: No\nLeukoreduced: Yes',
    'Irradiated: No (not required)',
    'Irradiated: No / CMV negative',
    'Irradiation: none required',
    'Irradiated: N/A',
    // A hostile-data review's texts (2026-11-24), missed before: no card, the order read as irradiated.
    'Irradiated: No standard stock',
    'Irradiated: No!',
    'Irradiated: No [x]',
    'Irradiated product = no, standard stock',
    'Irradiated: [ ]',
    'Irradiated ☐',
    'Irradiated: □',
  ])('"%s" says not irradiated', (text) => {
    expect(saysNotIrradiated(text)).toBe(true);
  });

  test.each([
    'Irradiated - no CMV requirement',
    'Irradiated (no substitution)',
    'Irradiated - no washing',
    'Irradiated (no other requirements)',
    'Irradiated: Yes',
    'Irradiated (yes)',
    'Irradiated, leukoreduced',
    'Irradiated, not washed',
    'Irradiated platelets lot no. 4411',
    'Irradiated yes CMV no',
    'Irradiated: Yes; CMV: No',
    'Irradiated product: Yes, CMV negative: no',
    'Irradiated: [x]',
    'Irradiated ☑',
  ])('"%s" does not', (text) => {
    expect(saysNotIrradiated(text)).toBe(false);
  });

  test('a negation before the word is a negation whatever surrounds it', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.constantFrom('Non-irradiated', 'not irradiated', 'Do not irradiate'),
        (a, b, neg) => saysNotIrradiated(`${a} ${neg} ${b}`),
      ),
    );
  });

  test('text without the word is never a negation of it', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/irradiat/i.test(s)),
        (s) => !saysNotIrradiated(s),
      ),
    );
  });

  test('long hostile text (500 kB, "irradiat" 16,384 times in a row) is read at once (no quadratic backtracking)', () => {
    const hostile = `irradiated${' :-('.repeat(50_000)}x ${'irradiat '.repeat(20_000)}${'irradiat'.repeat(16_384)}`;
    const started = performance.now();
    saysNotIrradiated(hostile);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('transfusionNamed: a blood product order recognised by its name when its codes are not ours', () => {
  // By hand: texts of ServiceRequests under a local code (or none). A cellular product with a word of a product
  // order is a transfusion (EHA/EBMT 2023: irradiate cellular products); a lab test naming the same cells is not.
  test.each<[string, string | undefined]>([
    ['Platelets, apheresis, 1 unit', 'platelet-transfusion'],
    ['Transfuse 1 unit platelets', 'platelet-transfusion'],
    ['PLT pooled x1', 'platelet-transfusion'],
    ['Thrombocyte concentrate, 1 dose', 'platelet-transfusion'],
    ['PRBC 2 units', 'red-cell-transfusion'],
    ['Red blood cells, leukoreduced, 1 unit', 'red-cell-transfusion'],
    ['Erythrocyte concentrate, 2 bags', 'red-cell-transfusion'],
    ['Type and crossmatch 2 units RBC', 'red-cell-transfusion'],
    ['Packed cells 1 unit', 'red-cell-transfusion'],
    ['Granulocytes, 1 unit', 'transfusion-unspecified'],
    ['Blood transfusion', 'transfusion-unspecified'],
    ['Platelet count', undefined],
    ['CBC with platelet count', undefined],
    ['RBC folate', undefined],
    ['Erythrocyte sedimentation rate', undefined],
    ['Platelet function assay', undefined],
    ['Transfusion reaction work-up', undefined],
    ['Consent for blood transfusion', undefined],
    ['Amoxicillin 500 mg', undefined],
  ])('"%s" → %s', (text, expected) => {
    expect(transfusionNamed({ coding: [{ system: 'urn:oid:1.2.3.4.5.local', code: 'X' }], text })).toBe(expected);
    // The same words as a coding's display, with no text.
    expect(transfusionNamed({ coding: [{ system: 'urn:oid:1.2.3.4.5.local', code: 'X', display: text }] })).toBe(
      expected,
    );
  });

  test('any concept: never throws, and long hostile text is read at once', () => {
    fc.assert(
      fc.property(fc.anything(), (c) => {
        transfusionNamed(c as never);
      }),
    );
    const hostile = `${'units '.repeat(50_000)}${'red '.repeat(50_000)}${'p'.repeat(100_000)}`;
    const started = performance.now();
    transfusionNamed({ text: hostile });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
