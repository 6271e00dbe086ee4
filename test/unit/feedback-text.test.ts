/**
 * The text of a feedback entry is a FHIR string (R4 datatypes, string): no character below U+0020
 * but tab, line feed and carriage return. One that holds another is refused by name, before it
 * reaches storage (PostgreSQL's text cannot hold U+0000), and every other text is taken as given.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { feedbackEntrySchema } from '../../src/cds-hooks/schemas.js';

const ALLOWED_CONTROLS = new Set(['\t', '\n', '\r']);
const isControl = (c: string): boolean => c.charCodeAt(0) < 0x20 && !ALLOWED_CONTROLS.has(c);

/** Text drawn mostly from the characters that matter here: controls, the three allowed, NUL, anything. */
const text = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\t', '\n', '\r', '\u0000', 'a', ' ', 'é', '\ud800'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 20,
});

const overridden = (reason: { system?: string; code: string; display?: string }, userComment: string): unknown => ({
  card: '2ed6657d-e927-568b-95e1-2665a8aea6a2',
  outcome: 'overridden',
  overrideReason: { reason, userComment },
  outcomeTimestamp: '2026-11-22T10:15:00Z',
});

describe('feedback text', () => {
  test('is taken exactly when it holds no control character but tab, line feed and carriage return', () => {
    fc.assert(
      fc.property(text, text, (code, comment) => {
        fc.pre(code.length > 0);
        const result = feedbackEntrySchema.safeParse(overridden({ code, display: comment }, comment));
        const refused = [...code].some(isControl) || [...comment].some(isControl);
        expect(result.success).toBe(!refused);
        if (!result.success) {
          const paths = result.error.issues.map((i) => i.path.join('.'));
          const expected = [
            ...([...code].some(isControl) ? ['overrideReason.reason.code'] : []),
            ...([...comment].some(isControl) ? ['overrideReason.reason.display', 'overrideReason.userComment'] : []),
          ];
          expect(paths.sort()).toEqual(expected.sort());
        }
      }),
      { numRuns: 3000 },
    );
  });
});
