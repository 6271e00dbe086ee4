/**
 * The one decoding rule for JSON bodies, requests and fhirServer answers alike
 * (src/fhir/json-text.ts): UTF-8 or the UTF-16 a charset names, a byte order mark skipped, invalid
 * bytes and other charsets refused by name, never turned into U+FFFD.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { decodeJsonText, TextDecodingError } from '../../src/fhir/json-text.js';

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
