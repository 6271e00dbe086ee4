/**
 * What the CLI prints from its input (src/cli/printable.ts): control characters, line and paragraph
 * separators and bidirectional overrides written as escapes, so a file name cannot move the cursor,
 * retitle the terminal or forge a line of the report.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { printable } from '../../src/cli/printable.js';

const SHOWN_AS_ESCAPE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('printable', () => {
  test.each<[string, string]>([
    ['\x1b]0;PWNED\x07', '\\x1b]0;PWNED\\x07'],
    ['a\nassessed 0 patient(s)', 'a\\x0aassessed 0 patient(s)'],
    ['\u202eexe.ndjson', '\\u202eexe.ndjson'],
    ['Observation.ndjson', 'Observation.ndjson'],
  ])('%j → %j', (text, shown) => {
    expect(printable(text)).toBe(shown);
  });

  test('property: no control character is left, text without one is unchanged, and twice is once', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = printable(text);
        expect(SHOWN_AS_ESCAPE.test(shown)).toBe(false);
        if (!SHOWN_AS_ESCAPE.test(text)) expect(shown).toBe(text);
        expect(printable(shown)).toBe(shown);
      }),
      { numRuns: 3000 },
    );
  });
});
