/**
 * Free text that says a blood product is not to be irradiated (docs/clinical-logic.md §10, order cards):
 * properties over any text, since order texts are input.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { saysNotIrradiated } from '../../src/cards/orders.js';

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
