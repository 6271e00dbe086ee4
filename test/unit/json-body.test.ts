/**
 * Request bodies: the bytes body-parser read (limit, Content-Length, gzip) decoded and parsed once
 * (src/cds-hooks/json-body.ts), with body-parser's JSON rules: UTF-8 unless the charset says
 * UTF-16, a byte order mark skipped, an empty body an empty object, only an object or array
 * accepted ("strict"), anything else a named 400 or 415, never another error.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { parseJson } from '../../src/cds-hooks/json-body.js';
import { OutcomeError } from '../../src/cds-hooks/outcomes.js';

const JSON_TYPE = 'application/json';

/** The status and diagnostics of what parseJson threw. */
function failure(raw: Buffer, contentType: string | undefined): [number, string] {
  try {
    parseJson(raw, contentType);
  } catch (error) {
    if (!(error instanceof OutcomeError)) throw error;
    return [error.status, error.outcome.issue?.[0]?.diagnostics ?? ''];
  }
  throw new Error('parsed');
}

describe('parseJson', () => {
  test.each([
    ['an object', Buffer.from('{"a":[1,2]}'), JSON_TYPE, { a: [1, 2] }],
    ['whitespace before the object (RFC 8259 §2)', Buffer.from(' \t\r\n{"a":1}'), JSON_TYPE, { a: 1 }],
    ['a byte order mark', Buffer.from('\ufeff{"a":1}'), JSON_TYPE, { a: 1 }],
    ['an empty body: an empty object (body-parser)', Buffer.alloc(0), JSON_TYPE, {}],
    ['an array', Buffer.from('[1]'), 'application/fhir+json', [1]],
    [
      'charset UTF-8, quoted and in capitals',
      Buffer.from('{"é":"ü"}'),
      'application/json; charset="UTF-8"',
      { é: 'ü' },
    ],
    ['charset utf-16le', Buffer.from('{"a":"ü"}', 'utf16le'), 'application/json; charset=utf-16le', { a: 'ü' }],
    ['no content type', Buffer.from('{"a":1}'), undefined, { a: 1 }],
  ])('%s', (_what, raw, type, expected) => {
    expect(parseJson(raw, type)).toEqual(expected);
  });

  const NOT_JSON = 'Request body is not valid JSON';
  const NOT_OBJECT = 'Request body must be a JSON object';
  test.each<[string, Buffer, string, number, string]>([
    ['a string (strict: object or array only) → 400', Buffer.from('"text"'), JSON_TYPE, 400, NOT_OBJECT],
    ['a number → 400', Buffer.from(' 12'), JSON_TYPE, 400, NOT_OBJECT],
    ['null → 400 asking for an object (valid JSON, not "not JSON")', Buffer.from('null'), JSON_TYPE, 400, NOT_OBJECT],
    ['true → 400', Buffer.from('true\n'), JSON_TYPE, 400, NOT_OBJECT],
    ['a number then garbage → 400 not JSON', Buffer.from('12 x'), JSON_TYPE, 400, NOT_JSON],
    ['only whitespace → 400', Buffer.from('  \n'), JSON_TYPE, 400, NOT_JSON],
    ['truncated JSON → 400', Buffer.from('{"a":'), JSON_TYPE, 400, NOT_JSON],
    ['two byte order marks → 400', Buffer.from('\ufeff\ufeff{}'), JSON_TYPE, 400, NOT_JSON],
    [
      'charset latin1 → 415 naming the charset',
      Buffer.from('{}'),
      'application/json; charset=latin1',
      415,
      'Charset "latin1" is not supported; send JSON as UTF-8 (or UTF-16)',
    ],
    [
      'charset utf-32 → 415 naming the charset',
      Buffer.from('{}'),
      'application/json; charset=utf-32',
      415,
      'Charset "utf-32" is not supported; send JSON as UTF-8 (or UTF-16)',
    ],
    [
      'ISO-8859-1 bytes sent as UTF-8 → 400 (they were read as U+FFFD)',
      Buffer.from('{"a":"µ"}', 'latin1'),
      JSON_TYPE,
      400,
      'Request body has bytes that are not valid UTF-8',
    ],
    [
      'an odd number of UTF-16 bytes → 400',
      Buffer.from('{}x', 'utf16le').subarray(0, 5),
      'application/json; charset=utf-16le',
      400,
      'Request body has bytes that are not valid UTF-16',
    ],
  ])('%s', (_what, raw, type, status, diagnostics) => {
    const [got, said] = failure(raw, type);
    expect(got).toBe(status);
    expect(said).toBe(diagnostics);
  });

  test('any JSON object or array comes back as JSON.parse reads it', () => {
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue())), (value) => {
        const text = JSON.stringify(value);
        expect(parseJson(Buffer.from(text), JSON_TYPE)).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  test('any bytes give a value or a named 400/415, never another error', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(JSON_TYPE, 'application/json; charset=utf-16be', 'application/json; charset=koi8-r'),
        (bytes, type) => {
          try {
            parseJson(Buffer.from(bytes), type);
          } catch (error) {
            expect(error).toBeInstanceOf(OutcomeError);
            expect([400, 415]).toContain((error as OutcomeError).status);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
