/**
 * Properties of the inputs read from files someone names: hospital files (THRESHOLDS_FILE,
 * LOCAL_CODES_FILE, --thresholds, --local-codes), files read within a size bound, and the dates of
 * the CLI's options and POST /assessments. Whatever the input, the answer is the value or a named
 * error, never another exception.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDate } from '../../src/clinical/dates.js';
import { ConfigError } from '../../src/config.js';
import { loadLocalCodes, loadThresholds } from '../../src/profiles.js';
import { FileTooLargeError, readRegularFile } from '../../src/read-file.js';

const dir = mkdtempSync(join(tmpdir(), 'file-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pieces hostile YAML is made of: tags, anchors and aliases, flow and block syntax, odd keys. */
const yamlPiece = fc.constantFrom(
  'actions:',
  '  redCellHemoglobin: 70',
  'codes:',
  '  anc:',
  '    - system: x',
  '      code: y',
  '__proto__:',
  'constructor: 1',
  '!!binary aGVsbG8=',
  '!!set {a, b}',
  '!!timestamp 2001-12-14',
  '!foo x',
  '!!js/function "x"',
  '&a [1, 2]',
  '*a',
  '<<: *a',
  '{',
  '}',
  '[',
  '- ',
  '.nan',
  '-.inf',
  '"\\u0000"',
  '---',
  '...',
  '%YAML 1.1',
  '? complex',
  '|',
  '>-',
);
const hospitalText = fc.oneof(
  fc.array(yamlPiece, { maxLength: 12 }).map((pieces) => pieces.join('\n')),
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
);

describe('hospital files', () => {
  test('any text (JSON, YAML, hostile pieces, bytes that are not UTF-8): the hospital values or a ConfigError', () => {
    let n = 0;
    fc.assert(
      fc.property(hospitalText, fc.boolean(), fc.boolean(), (text, latin1, codes) => {
        const path = join(dir, `h${n++}.yaml`);
        writeFileSync(path, latin1 ? Buffer.from(text, 'latin1') : text);
        try {
          const value = codes ? loadLocalCodes(path) : loadThresholds(path);
          expect(value).toBeDefined();
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('readRegularFile', () => {
  test('a file of at most the bound comes back whole; one past it is a FileTooLargeError', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 }), (size, max) => {
        const path = join(dir, `r${n++}`);
        const bytes = Buffer.alloc(size, 0x61);
        writeFileSync(path, bytes);
        if (size <= max) expect(readRegularFile(path, max)).toEqual(bytes);
        else expect(() => readRegularFile(path, max)).toThrow(FileTooLargeError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('isDate', () => {
  /** Days in a month of the proleptic Gregorian calendar, by the rule (not by Date). */
  const daysIn = (year: number, month: number): number =>
    month === 2
      ? (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
        ? 29
        : 28
      : [4, 6, 9, 11].includes(month)
        ? 30
        : 31;
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');

  test('YYYY-MM-DD is a date exactly when its day exists in its month (leap years by the Gregorian rule)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        (year, month, day) => {
          const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          const exists = month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
          expect(isDate(text)).toBe(exists);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('anything not shaped YYYY-MM-DD is not a date', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }).filter((s) => !/^\d{4}-\d{2}-\d{2}$/.test(s)),
        (text) => {
          expect(isDate(text)).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
