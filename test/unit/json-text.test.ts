/**
 * The one decoding rule for JSON bodies, requests and fhirServer answers alike
 * (src/fhir/json-text.ts): UTF-8 or the UTF-16 a charset names, a byte order mark skipped, invalid
 * bytes and other charsets refused by name, never turned into U+FFFD.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { decodeJsonText, jsonValuesOver, TextDecodingError } from '../../src/fhir/json-text.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** UTF-16BE bytes of `text`, with its byte order mark. */
const utf16be = (text: string): Buffer => Buffer.from(`\ufeff${text}`, 'utf16le').swap16();

describe('decodeJsonText', () => {
  test('any text comes back from UTF-8 (with or without a BOM) and UTF-16 LE/BE', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const utf8 = Buffer.from(text);
        expect(decodeJsonText(utf8, 'application/fhir+json')).toBe(text);
        expect(decodeJsonText(Buffer.concat([BOM, utf8]), 'application/json; charset=UTF-8')).toBe(text);
        expect(decodeJsonText(Buffer.from(text, 'utf16le'), 'application/json; charset=utf-16le')).toBe(text);
        expect(decodeJsonText(utf16be(text), 'application/json; charset="utf-16be"')).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  test('any bytes give the text or a TextDecodingError, and never a U+FFFD the bytes did not hold', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(
          undefined,
          'application/json',
          'application/json; charset=utf-16',
          'text/plain; charset=koi8-r',
        ),
        (bytes, type) => {
          try {
            const raw = Buffer.from(bytes);
            const text = decodeJsonText(raw, type);
            const bom = raw.subarray(0, 3).equals(BOM) ? 3 : 0;
            if (!type?.includes('utf-16')) expect(Buffer.from(text).equals(raw.subarray(bom))).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(TextDecodingError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test.each<[string, Buffer, string | undefined, string]>([
    [
      'ISO-8859-1 bytes without a charset',
      Buffer.from('{"µ":1}', 'latin1'),
      undefined,
      'bytes that are not valid UTF-8',
    ],
    [
      'a lone UTF-16 surrogate',
      Buffer.from([0x00, 0xd8, 0x7b, 0x00]),
      'application/json; charset=utf-16le',
      'bytes that are not valid UTF-16',
    ],
    [
      'charset iso-8859-1',
      Buffer.from('{}'),
      'application/json; charset=iso-8859-1',
      'charset iso-8859-1, not UTF-8 or UTF-16',
    ],
    [
      'a charset that is no name',
      Buffer.from('{}'),
      'application/json; charset=<script>',
      'an unknown charset, not UTF-8 or UTF-16',
    ],
  ])('%s', (_what, raw, type, message) => {
    expect(() => decodeJsonText(raw, type)).toThrow(new TextDecodingError('invalid-bytes', '', message));
  });
});

/**
 * The oracle for jsonValuesOver, written another way: string literals removed by a regular
 * expression, then one for the top value and one per `{`, `[`, `,` and `:` left.
 */
function valuesOf(text: string): number {
  return 1 + (text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/[{[,:]/g) ?? []).length;
}

describe('jsonValuesOver: JSON values counted before parsing (BODY_MAX_JSON_VALUES)', () => {
  test.each([
    // [text, values by the rule, counted by hand]
    ['1', 1],
    ['[]', 2],
    ['[1,2,3]', 4],
    ['{"a":1,"b":[true,null]}', 7],
    ['[{},{},{}]', 7],
    ['["{[,:", "a\\"]', 3], // brackets, commas and colons inside strings do not count; "a\\" ends at its quote
    ['["\\"{,"]', 2], // an escaped quote does not end the string
  ])('%s holds %d', (text, values) => {
    expect(valuesOf(text)).toBe(values);
    expect(jsonValuesOver(text, values - 1)).toBe(true);
    expect(jsonValuesOver(text, values)).toBe(false);
  });

  test('an unterminated string runs to the end of the text', () => {
    expect(jsonValuesOver('"never closed {,[', 1)).toBe(false);
    expect(jsonValuesOver('[1,"never closed {,[', 3)).toBe(false); // the top value, [ and ,
    expect(jsonValuesOver('[1,"never closed {,[', 2)).toBe(true);
  });

  test('16 MB of {} is refused at the default cap; a 20,000-Observation-like body is not', () => {
    expect(jsonValuesOver(`[${'{},'.repeat(5_000_000)}{}]`, 1_500_000)).toBe(true);
    const observation = JSON.stringify({
      resource: {
        resourceType: 'Observation',
        id: 'o1234',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '751-8', display: 'Neutrophils' }] },
        subject: { reference: 'Patient/p1' },
        effectiveDateTime: '2026-01-01T06:00:00Z',
        valueQuantity: { value: 1.2, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' },
      },
    });
    const body = `{"entry":[${Array.from({ length: 20_000 }, () => observation).join(',')}]}`;
    expect(valuesOf(body)).toBeLessThan(1_500_000);
    expect(jsonValuesOver(body, 1_500_000)).toBe(false);
  });

  test('any JSON text, compact or spaced: over max exactly when it holds more than max values (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), fc.nat(40), (value, spaced, slack) => {
        const text = JSON.stringify(value, null, spaced ? 1 : undefined) ?? 'null';
        const values = valuesOf(text);
        for (const max of [0, values - 1, values, values + slack].filter((m) => m >= 0))
          expect(jsonValuesOver(text, max)).toBe(values > max);
      }),
      { numRuns: 1000 },
    );
  });
});
