/**
 * Unit normalisation (docs/clinical-logic.md §3): every value is converted with UCUM
 * (`@lhncbc/ucum-lhc`) into the canonical unit of its dimension. The common non-UCUM strings
 * hospitals send (K/uL, x10E3/uL, thou/mm3, cells/uL, G/L…) are mapped to UCUM first: some are
 * valid UCUM with another meaning (K is kelvin, G is gauss). A unit that cannot be read is
 * reported with its reason, never guessed from the magnitude of the value.
 */
import ucum from '@lhncbc/ucum-lhc';
import { recordText } from './record-text.js';

export type Dimension =
  | 'count'
  | 'hemoglobin'
  | 'immunoglobulin'
  | 'crp'
  | 'ferritin'
  | 'cytokine'
  | 'ddimer'
  | 'fibrinogen'
  | 'enzyme'
  | 'temperature'
  | 'percent'
  | 'ratio'
  | 'grade'
  | 'mass';

/** Canonical UCUM unit of each dimension. */
export const CANONICAL_UNIT: Record<Dimension, string> = {
  count: '10*9/L',
  hemoglobin: 'g/L',
  immunoglobulin: 'mg/dL',
  crp: 'mg/dL',
  ferritin: 'ng/mL',
  cytokine: 'pg/mL',
  ddimer: 'mg/L',
  fibrinogen: 'mg/dL',
  enzyme: 'U/L',
  temperature: 'Cel',
  percent: '%',
  ratio: '1',
  grade: '1',
  mass: 'kg',
};

/** How a canonical unit is written for people (cards, app). */
export const DISPLAY_UNIT: Record<string, string> = {
  '10*9/L': '×10⁹/L',
  'g/L': 'g/L',
  'mg/dL': 'mg/dL',
  'ng/mL': 'ng/mL',
  'pg/mL': 'pg/mL',
  'mg/L': 'mg/L',
  'U/L': 'U/L',
  Cel: '°C',
  '%': '%',
  '1': '',
  kg: 'kg',
};

/** Case-sensitive aliases, tried first (their meaning depends on case). */
const EXACT_ALIASES: Partial<Record<Dimension, Record<string, string>>> = {
  // French and Belgian labs write giga per litre as G/L; in UCUM G is gauss.
  count: { 'G/L': '10*9/L', 'Giga/L': '10*9/L', 'T/L': '10*12/L' },
};

/** Case-insensitive aliases (keys lower-case, µ written u, no spaces). */
const ALIASES: Partial<Record<Dimension, Record<string, string>>> = {
  count: {
    'k/ul': '10*3/uL',
    'k/mm3': '10*3/uL',
    'k/cumm': '10*3/uL',
    'thou/ul': '10*3/uL',
    'thou/mm3': '10*3/uL',
    'thou/cumm': '10*3/uL',
    'x10e3/ul': '10*3/uL',
    'x10^3/ul': '10*3/uL',
    'x10*3/ul': '10*3/uL',
    '10e3/ul': '10*3/uL',
    '10^3/ul': '10*3/uL',
    '10³/ul': '10*3/uL',
    '×10³/ul': '10*3/uL',
    '×10^3/ul': '10*3/uL',
    'x10e3/mm3': '10*3/uL',
    'x10e9/l': '10*9/L',
    'x10^9/l': '10*9/L',
    'x10*9/l': '10*9/L',
    '10e9/l': '10*9/L',
    '10^9/l': '10*9/L',
    '10⁹/l': '10*9/L',
    '×10⁹/l': '10*9/L',
    '×10^9/l': '10*9/L',
    'cells/ul': '/uL',
    'cells/mm3': '/mm3',
    'cells/cumm': '/mm3',
    '/cumm': '/mm3',
    // "cmm", cubic millimetre (= µL), as many laboratory reports write it.
    'cells/cmm': '/mm3',
    '/cmm': '/mm3',
    'k/cmm': '10*3/uL',
    'thou/cmm': '10*3/uL',
    '#/ul': '/uL',
    'cell/ul': '/uL',
  },
  hemoglobin: { 'gm/dl': 'g/dL', 'g/dl': 'g/dL', 'gm/l': 'g/L', 'g/l': 'g/L', 'mg/dl': 'mg/dL' },
  immunoglobulin: { 'mg/dl': 'mg/dL', 'g/l': 'g/L', 'mg/l': 'mg/L', 'g/dl': 'g/dL', 'mg%': 'mg/dL' },
  crp: { 'mg/dl': 'mg/dL', 'mg/l': 'mg/L', 'ug/ml': 'ug/mL', 'mcg/ml': 'ug/mL' },
  ferritin: { 'ng/ml': 'ng/mL', 'ug/l': 'ug/L', 'mcg/l': 'ug/L', 'pmol/l': 'pmol/L' },
  cytokine: { 'pg/ml': 'pg/mL', 'ng/l': 'ng/L' },
  ddimer: {
    'mg/lfeu': 'mg/L',
    'ug/mlfeu': 'ug/mL',
    'mcg/mlfeu': 'ug/mL',
    'ng/mlfeu': 'ng/mL',
    'mg/l': 'mg/L',
    'ug/ml': 'ug/mL',
    'ng/ml': 'ng/mL',
  },
  fibrinogen: { 'mg/dl': 'mg/dL', 'g/l': 'g/L' },
  enzyme: { 'iu/l': 'U/L', 'u/l': 'U/L', '[iu]/l': 'U/L' },
  temperature: {
    '°c': 'Cel',
    degc: 'Cel',
    c: 'Cel',
    celsius: 'Cel',
    '°f': '[degF]',
    degf: '[degF]',
    f: '[degF]',
    fahrenheit: '[degF]',
  },
  percent: { '%': '%', percent: '%', pct: '%', '%lymphocytes': '%', '%oflymphocytes': '%' },
  ratio: { ratio: '1', '{ratio}': '1', '1': '1', '': '1' },
  mass: { kg: 'kg', kgs: 'kg', g: 'g', lb: '[lb_av]', lbs: '[lb_av]', '[lb_av]': '[lb_av]' },
};

/** Hemoglobin in mmol/L (Dutch practice): 1 mmol/L of the Hb monomer = 16.114 g/L. */
const HB_MMOL_TO_G_PER_L = 16.114;

export type ConversionResult = { ok: true; value: number; unit: string } | { ok: false; reason: string };

export type Converter = (value: number) => number;
const identity: Converter = (v) => v;

/**
 * Units are input: a record (or a hostile client) can bring any number of distinct unit texts, so
 * every per-unit cache holds at most this many and starts afresh when full. A hospital's labs use a
 * few units per analyte; the cap only matters for input no lab sends.
 */
export const MAX_CACHED_UNITS = 256;
/** The longest unit text read; a longer one cannot be read (and costs neither parsing nor cache). */
export const MAX_UNIT_LENGTH = 64;
const cache = new Map<Dimension, Map<string, Converter | null>>();
const percentUnits = new Map<string, boolean>();

function remember<V>(byUnit: Map<string, V>, unit: string, value: V): V {
  if (byUnit.size >= MAX_CACHED_UNITS) byUnit.clear();
  byUnit.set(unit, value);
  return value;
}

/** How many unit texts the caches hold (for the test that they stay bounded). */
export function cachedUnitCount(): number {
  let n = percentUnits.size;
  for (const byUnit of cache.values()) n += byUnit.size;
  return n;
}
let utils: ReturnType<typeof ucum.UcumLhcUtils.getInstance> | undefined;

function ucumUtils(): NonNullable<typeof utils> {
  utils ??= ucum.UcumLhcUtils.getInstance();
  return utils;
}

/**
 * `table[key]` for the table's own keys only: a unit is input, and `"__proto__"` or `"constructor"`
 * must not reach Object.prototype.
 */
function ownValue(table: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  return table && Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * ucum-lhc's conversion; its own lookup tables throw on some words (`__proto__`, `toString`): unreadable then.
 * On a unit text it cannot parse (a space, unbalanced brackets, some of its own TypeErrors), ucum-lhc
 * writes the text to `console.log`: record text on stdout, outside the service's logger and its
 * rules. The call is synchronous, so `console.log` is silenced for it alone.
 */
function ucumConvert(unit: string, target: string): ReturnType<NonNullable<typeof utils>['convertUnitTo']> | undefined {
  const log = console.log;
  console.log = () => undefined;
  try {
    return ucumUtils().convertUnitTo(unit, 1, target);
  } catch {
    return undefined;
  } finally {
    console.log = log;
  }
}

function clean(unit: string): string {
  return (
    unit
      .replace(/[µμ]/g, 'u')
      .replace(/\s+/g, '')
      // "mcL", the microlitre ISMP recommends writing instead of "µL" (US labs: "K/mcL", "cells/mcL").
      .replace(/\/mcl$/i, '/uL')
      // "x10(9)/L", "x10(3)/uL": exponents in brackets, as some laboratory systems print them.
      .replace(/10\((\d{1,2})\)/g, '10^$1')
  );
}

/** Finds how to convert `unit` into the canonical unit of `dimension` (cached per unit). */
function converterFor(dimension: Dimension, unit: string): Converter | null {
  // No unit a laboratory writes is this long ("10*3/uL", "/100{WBCs}"): not parsed, and not kept as a cache key.
  if (unit.length > MAX_UNIT_LENGTH) return null;
  let byUnit = cache.get(dimension);
  if (!byUnit) {
    byUnit = new Map();
    cache.set(dimension, byUnit);
  }
  const cached = byUnit.get(unit);
  if (cached !== undefined) return cached;
  return remember(byUnit, unit, buildConverter(dimension, unit));
}

function buildConverter(dimension: Dimension, raw: string): Converter | null {
  const target = CANONICAL_UNIT[dimension];
  const unit = clean(raw);
  if (dimension === 'grade') return identity;
  if (dimension === 'hemoglobin' && unit.toLowerCase() === 'mmol/l') return (v) => round(v * HB_MMOL_TO_G_PER_L);
  const exact = ownValue(EXACT_ALIASES[dimension], unit);
  const alias = ownValue(ALIASES[dimension], unit.toLowerCase());
  const candidates = [exact, alias, unit, unit.toLowerCase()].filter((u): u is string => u !== undefined);
  for (const candidate of [...new Set(candidates)]) {
    if (candidate === target) return identity;
    if (dimension === 'temperature' && candidate === '[degF]') return (v) => round(((v - 32) * 5) / 9);
    if (dimension === 'percent' || dimension === 'ratio' || dimension === 'temperature') continue;
    if (!candidate) continue;
    const result = ucumConvert(candidate, target);
    if (
      result?.status === 'succeeded' &&
      typeof result.toVal === 'number' &&
      Number.isFinite(result.toVal) &&
      result.toVal > 0
    ) {
      const factor = Number(result.toVal.toPrecision(12));
      return factor === 1 ? identity : (v) => round(v * factor);
    }
  }
  return null;
}

/** Converts `value` given in `unit` into the canonical unit of `dimension`. */
export function toCanonical(dimension: Dimension, unit: string | undefined, value: number): ConversionResult {
  const convert = unitConverter(dimension, unit);
  return typeof convert === 'string'
    ? { ok: false, reason: convert }
    : { ok: true, value: convert(value), unit: CANONICAL_UNIT[dimension] };
}

/**
 * How to convert values given in `unit` into the canonical unit of `dimension` (cached per unit),
 * or why they cannot be: the engine's hot loop converts without allocating a result per value.
 */
export function unitConverter(dimension: Dimension, unit: string | undefined): Converter | string {
  if (unit === undefined || unit.trim() === '') {
    return dimension === 'ratio' || dimension === 'grade' ? identity : 'the value has no unit';
  }
  return (
    converterFor(dimension, unit) ?? `unit "${recordText(unit)}" cannot be read as ${describeDimension(dimension)}`
  );
}

/** True when `unit` is a percentage (CD19/CD4/CD8 are measured as % or as counts). */
export function isPercentUnit(unit: string | undefined): boolean {
  if (unit === undefined || unit.length > MAX_UNIT_LENGTH) return false;
  const known = percentUnits.get(unit);
  if (known !== undefined) return known;
  return remember(percentUnits, unit, ALIASES.percent?.[clean(unit).toLowerCase()] === '%');
}

function describeDimension(dimension: Dimension): string {
  switch (dimension) {
    case 'count':
      return 'a count per volume (e.g. 10*9/L, 10*3/uL, /uL)';
    case 'hemoglobin':
      return 'a hemoglobin concentration (g/L, g/dL, mmol/L)';
    case 'immunoglobulin':
      return 'an immunoglobulin concentration (mg/dL, g/L)';
    case 'temperature':
      return 'a temperature (Cel, [degF])';
    case 'percent':
      return 'a percentage';
    default:
      return `a value convertible to ${CANONICAL_UNIT[dimension]}`;
  }
}

/** Rounds away binary noise (0.30000000000000004) without losing lab precision (9 decimals). */
function round(v: number): number {
  return Math.round(v * 1e9) / 1e9;
}

export function displayUnit(unit: string): string {
  return ownValue(DISPLAY_UNIT, unit) ?? unit;
}
