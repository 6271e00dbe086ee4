/**
 * The codes suggestions are ordered by, with the hospital's own in place of the standard ones
 * where it has configured them (the `orderables` section of LOCAL_CODES_FILE, read by
 * `loadOrderableCodes` in src/profiles.ts): its marrow order, its HHV-6 PCR, its irradiated-product
 * attribute… A configured key replaces that order's codings (the text stays); keys it does not
 * configure keep the verified standard codes of suggestions.ts.
 *
 * Pure: the caller reads the file and passes the codings in.
 */
import type { CodeableConcept, Coding } from 'fhir/r4.js';
import { CODES, IRRADIATED, VIRAL_PCR } from './suggestions.js';

/** The viral PCR keys, in the order of `CODES.viralPcr`. */
export const VIRAL_PCR_KEYS = [
  'cmvPcr',
  'ebvPcr',
  'parvovirusB19Pcr',
  'hhv6Pcr',
] as const satisfies readonly (keyof typeof VIRAL_PCR)[];

/** Every order a hospital can give its own code to. */
export const ORDERABLE_KEYS = [
  'cbc',
  'marrow',
  ...VIRAL_PCR_KEYS,
  'ferritin',
  'igg',
  'redCells',
  'platelets',
  'irradiated',
] as const;
export type OrderableKey = (typeof ORDERABLE_KEYS)[number];

/** The hospital's codings by order, as configured. */
export type OrderableCodes = Partial<Record<OrderableKey, Coding[]>>;

/** The code of each order the cards suggest. */
export interface Orderables {
  cbc: CodeableConcept;
  marrow: CodeableConcept;
  /** CMV, EBV, parvovirus B19, HHV-6: one order each. */
  viralPcr: CodeableConcept[];
  ferritin: CodeableConcept;
  igg: CodeableConcept;
  redCells: CodeableConcept;
  platelets: CodeableConcept;
  /** For `ServiceRequest.orderDetail` of a blood product order. */
  irradiated: CodeableConcept;
}

function pick(standard: CodeableConcept, hospital: Coding[] | undefined): CodeableConcept {
  if (!hospital?.length) return standard;
  return { coding: hospital.map((c) => ({ ...c })), ...(standard.text ? { text: standard.text } : {}) };
}

/** The orders' codes: the hospital's where configured, the verified standard codes elsewhere. */
export function resolveOrderables(hospital: OrderableCodes = {}): Orderables {
  return {
    cbc: pick(CODES.cbc, hospital.cbc),
    marrow: pick(CODES.marrow, hospital.marrow),
    viralPcr: VIRAL_PCR_KEYS.map((key) => pick(VIRAL_PCR[key], hospital[key])),
    ferritin: pick(CODES.ferritin, hospital.ferritin),
    igg: pick(CODES.igg, hospital.igg),
    redCells: pick(CODES.redCells, hospital.redCells),
    platelets: pick(CODES.platelets, hospital.platelets),
    irradiated: pick(IRRADIATED, hospital.irradiated),
  };
}

/** The standard codes, for a hospital that configures none. */
export const DEFAULT_ORDERABLES: Orderables = resolveOrderables();
