/**
 * Free text that says a blood product is not to be irradiated (docs/clinical-logic.md §10, order cards):
 * properties over any text, since order texts are input.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { saysNotIrradiated } from '../../src/cards/orders.js';

describe('saysNotIrradiated', () => {
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

  test('long hostile text is read in linear time (no catastrophic backtracking)', () => {
    const hostile = `irradiated${' :-('.repeat(50_000)}x ${'irradiat '.repeat(20_000)}`;
    const started = performance.now();
    saysNotIrradiated(hostile);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
