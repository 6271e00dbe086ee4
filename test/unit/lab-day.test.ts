/**
 * The lab day of a timestamp (docs/clinical-logic.md §2; clinical spec §1 "Time axis"): a
 * timestamp with its own UTC offset belongs to its own local calendar date; TIME_ZONE applies
 * only to UTC timestamps (`Z`, `-00:00`) and to timestamps without an offset.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { addDays, daysBetween, InstantParser, isDate, readInstant } from '../../src/clinical/dates.js';
import { anc, assessOn, infusion } from '../helpers/fhir.js';

const RULE = 'docs/clinical-logic.md §2 lab day';

describe('lab date of a timestamp', () => {
  // Expected dates and instants worked out by hand from the offsets.
  test.each<[string, string, string, string, string]>([
    [
      'a draw at 07:30 in Perth (+08:00)',
      '2025-03-10T07:30:00+08:00',
      'Europe/Berlin',
      '2025-03-10',
      '2025-03-09T23:30:00.000Z',
    ],
    ['the same draw, hospital zone UTC', '2025-03-10T07:30:00+08:00', 'UTC', '2025-03-10', '2025-03-09T23:30:00.000Z'],
    [
      '23:30 in New York (-05:00) stays on the 9th',
      '2025-03-09T23:30:00-05:00',
      'Asia/Tokyo',
      '2025-03-09',
      '2025-03-10T04:30:00.000Z',
    ],
    [
      '+00:00 is an offset of its own',
      '2025-03-09T23:30:00+00:00',
      'Asia/Tokyo',
      '2025-03-09',
      '2025-03-09T23:30:00.000Z',
    ],
    [
      'Z: the hospital zone decides (Tokyo is +09:00)',
      '2025-03-09T23:30:00Z',
      'Asia/Tokyo',
      '2025-03-10',
      '2025-03-09T23:30:00.000Z',
    ],
    ['Z with the default zone UTC', '2025-03-09T23:30:00Z', 'UTC', '2025-03-09', '2025-03-09T23:30:00.000Z'],
    [
      '-00:00 (offset unknown, RFC 3339) is read as UTC',
      '2025-03-09T23:30:00-00:00',
      'Asia/Tokyo',
      '2025-03-10',
      '2025-03-09T23:30:00.000Z',
    ],
    [
      'no offset: wall-clock time in the hospital zone (Berlin is +01:00 in March)',
      '2025-03-10T00:30:00',
      'Europe/Berlin',
      '2025-03-10',
      '2025-03-09T23:30:00.000Z',
    ],
    [
      'no offset across a DST change (Berlin +02:00 on 31 March)',
      '2025-03-31T01:30:00',
      'Europe/Berlin',
      '2025-03-31',
      '2025-03-30T23:30:00.000Z',
    ],
    // A date only is 00:00 UTC of that date, wherever the hospital is: it has no instant of its own, and what
    // needs the latest value of a date compares dates (docs/clinical-logic.md §2).
    ['a date only', '2025-03-10', 'Asia/Tokyo', '2025-03-10', '2025-03-10T00:00:00.000Z'],
    ['a date only, west of UTC', '2025-03-11', 'America/New_York', '2025-03-11', '2025-03-11T00:00:00.000Z'],
    ['a date only, in UTC', '2025-03-10', 'UTC', '2025-03-10', '2025-03-10T00:00:00.000Z'],
  ])('%s: %s in %s → %s', (_name, value, zone, date, instant) => {
    const read = readInstant(value, zone);
    expect(read?.date).toBe(date);
    expect(new Date(read?.ms ?? NaN).toISOString()).toBe(instant);
    expect(RULE).toBeTruthy();
  });

  test.each([['2025-03'], ['2025'], ['not a date'], ['2025-13-40T07:00:00Z']])('%s is not a lab date', (value) => {
    expect(readInstant(value, 'UTC')).toBeUndefined();
  });

  // Dates that do not exist, which Date.parse rolls over to another day (FHIR date/dateTime
  // regex: day 01–31 of a real month, hour 00–23): never a lab day or a day 0.
  test.each<[string, string]>([
    ['2026-02-29', '29 February of a common year (Date.parse: 1 March)'],
    ['2026-02-29T10:00:00Z', 'the same, with a time'],
    ['2026-11-31', '31 November (Date.parse: 1 December)'],
    ['2026-11-31T08:00:00+01:00', 'the same, with its own offset'],
    ['2026-04-31T08:00:00', 'the same, without an offset'],
    ['2026-11-22T24:00:00Z', 'hour 24 (ISO 8601 allows it, FHIR does not; Date.parse: next midnight)'],
    ['2026-11-22T24:00:00+01:00', 'hour 24 with an offset'],
  ])('%s (%s) is not a lab date, in every zone', (value) => {
    for (const zone of ['UTC', 'Europe/Berlin', 'Asia/Tokyo']) {
      expect(readInstant(value, zone)).toBeUndefined();
      expect(new InstantParser(zone).read(value)).toBe(false);
    }
  });

  test.each<[string, string, string]>([
    ['2024-02-29T10:00:00Z', 'UTC', '2024-02-29'],
    ['2024-02-29', 'UTC', '2024-02-29'],
    ['2026-11-30T23:30:00-05:00', 'Asia/Tokyo', '2026-11-30'],
    ['2026-12-31T23:59:59.999+14:00', 'UTC', '2026-12-31'],
  ])('%s in %s is the lab date %s (leap day, last days of months)', (value, zone, date) => {
    expect(readInstant(value, zone)?.date).toBe(date);
  });

  test('a 07:30 draw stamped +08:00 on day +9 counts as day +9 in a UTC hospital (not day +8)', () => {
    const draw = anc(9, 0.3);
    draw.effectiveDateTime = draw.effectiveDateTime?.replace(/T.*$/, 'T07:30:00+08:00');
    const a = assessOn(9, [infusion(0), draw]);
    expect(a.latest.anc).toMatchObject({ day: 9, value: 0.3 });
  });
});

describe('any timestamp text (property)', () => {
  const zones = ['UTC', 'Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];
  test('never throws; a date it returns is a real YYYY-MM-DD; an own offset keeps the written date', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .tuple(
              fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }),
              fc.constantFrom('Z', '-00:00', '+08:00', '-05:00', '+00:00', '+14:00', ''),
            )
            .map(([d, off]) => `${d.toISOString().slice(0, 19)}${off}`),
        ),
        fc.constantFrom(...zones),
        (value, zone) => {
          const read = readInstant(value, zone);
          if (read === undefined) return;
          expect(isDate(read.date)).toBe(true);
          expect(Number.isFinite(read.ms)).toBe(true);
          if (/[+-]\d{2}:\d{2}$/.test(value) && !value.endsWith('-00:00')) expect(read.date).toBe(value.slice(0, 10));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("the engine's fast timestamp reader agrees with readInstant (property)", () => {
  const zones = ['UTC', 'Europe/Berlin', 'Asia/Tokyo', 'America/New_York'];
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  // Near-valid timestamps: every field may step out of range, and the separators, fraction and
  // designator vary, so the digit-by-digit path and its fall-back to readInstant both run.
  const stamp = fc
    .tuple(
      fc.integer({ min: 0, max: 2999 }).map((n) => String(n).padStart(4, '0')),
      two(13),
      two(32),
      fc.constantFrom('T', 't', ' '),
      two(25),
      two(61),
      two(61),
      fc.constantFrom('', '.', '.5', '.12', '.123', '.1239', '.123456789'),
      fc.constantFrom(
        'Z',
        'z',
        '',
        '-00:00',
        '+00:00',
        '+08:00',
        '-05:30',
        '+14:00',
        '+23:59',
        '+24:00',
        '+05:60',
        '+0800',
      ),
    )
    .map(([y, mo, d, t, h, mi, s, frac, off]) => `${y}-${mo}-${d}${t}${h}:${mi}:${s}${frac}${off}`);
  test('same instant and lab date, or both unreadable, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(stamp, fc.string(), fc.constant(undefined)), fc.constantFrom(...zones), (value, zone) => {
        const parser = new InstantParser(zone);
        const expected = readInstant(value, zone);
        expect(parser.read(value)).toBe(expected !== undefined);
        if (expected) expect({ ms: parser.ms, date: parser.date }).toEqual(expected);
      }),
      { numRuns: 20_000 },
    );
  });

  test("one reader over a sequence (repeats, failures in between): each answer is readInstant's", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(stamp, fc.constantFrom('2025-03-10T07:30:00+08:00', 'not a date', ''), fc.constant(undefined)),
          {
            maxLength: 30,
          },
        ),
        fc.constantFrom(...zones),
        (values, zone) => {
          const parser = new InstantParser(zone);
          for (const value of [...values, ...values]) {
            const expected = readInstant(value, zone);
            expect(parser.read(value)).toBe(expected !== undefined);
            if (expected) expect({ ms: parser.ms, date: parser.date }).toEqual(expected);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test.each<[string, string, number, string]>([
    // Worked by hand: 2024 is a leap year; 2100 is not (divisible by 100, not 400).
    ['2024-02-29T23:59:59.999+00:00', 'UTC', Date.UTC(2024, 1, 29, 23, 59, 59, 999), '2024-02-29'],
    ['2025-03-10T07:30:00+08:00', 'Europe/Berlin', Date.UTC(2025, 2, 9, 23, 30), '2025-03-10'],
    ['2025-03-09T23:30:00-05:00', 'Asia/Tokyo', Date.UTC(2025, 2, 10, 4, 30), '2025-03-09'],
    ['2000-02-29T00:00:00Z', 'UTC', Date.UTC(2000, 1, 29), '2000-02-29'],
  ])('%s in %s', (value, zone, ms, date) => {
    const parser = new InstantParser(zone);
    expect(parser.read(value)).toBe(true);
    expect({ ms: parser.ms, date: parser.date }).toEqual({ ms, date });
  });

  test('2100-02-29 is not a date the fast path reads (2100 is no leap year); readInstant decides', () => {
    const parser = new InstantParser('UTC');
    const expected = readInstant('2100-02-29T10:00:00Z', 'UTC');
    expect(parser.read('2100-02-29T10:00:00Z')).toBe(expected !== undefined);
  });
});

describe('day arithmetic agrees with the calendar of Date (property)', () => {
  // The reference: the formulas the engine used before it counted days by arithmetic.
  const DAY = 86_400_000;
  const refBetween = (from: string, to: string): number =>
    Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY);
  const refAdd = (date: string, days: number): string =>
    new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  const nearDate = fc
    .tuple(fc.integer({ min: 900, max: 3000 }).map(String), two(13), two(32))
    .map(([y, m, d]) => `${y.padStart(4, '0')}-${m}-${d}`);
  const date = fc.oneof(
    fc
      .date({ min: new Date('1900-01-01'), max: new Date('2200-12-31'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10)),
    nearDate,
  );
  test('daysBetween: the same count (NaN alike) for any two near-valid dates', () => {
    fc.assert(
      fc.property(date, date, (a, b) => {
        expect(daysBetween(a, b)).toBe(refBetween(a, b));
      }),
      { numRuns: 20_000 },
    );
  });
  test('addDays: the same date, or the same error, for any near-valid date and offset', () => {
    fc.assert(
      fc.property(date, fc.integer({ min: -40_000, max: 40_000 }), (d, n) => {
        let expected: string | Error;
        try {
          expected = refAdd(d, n);
        } catch (error) {
          expected = error as Error;
        }
        if (expected instanceof Error) expect(() => addDays(d, n)).toThrow(RangeError);
        else expect(addDays(d, n)).toBe(expected);
      }),
      { numRuns: 20_000 },
    );
  });
  test.each<[string, number, string]>([
    // By hand: 2024 is a leap year, 2100 is not, 2000 is (divisible by 400).
    ['2024-02-28', 1, '2024-02-29'],
    ['2100-02-28', 1, '2100-03-01'],
    ['2000-02-28', 1, '2000-02-29'],
    ['2025-12-31', 1, '2026-01-01'],
    ['2026-03-01', -1, '2026-02-28'],
  ])('%s + %i day → %s', (from, days, to) => {
    expect(addDays(from, days)).toBe(to);
    expect(daysBetween(from, to)).toBe(days);
  });
});
