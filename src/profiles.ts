/**
 * Reads what the engine is configured with from disk: the ValueSets in `fhir-profiles/`, the
 * hospital thresholds file and the hospital's local codes. Any problem stops start-up with a
 * message naming the file and the field.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValueSet } from 'fhir/r4.js';
import type * as Yaml from 'yaml';
import { z } from 'zod';
import type { HospitalThresholds } from './clinical/thresholds.js';
import { DEFAULT_HOSPITAL_THRESHOLDS, parseThresholds } from './clinical/thresholds.js';
import type { EngineSettings } from './clinical/assess.js';
import type { LocalCodes } from './clinical/terminology.js';
import { buildTerminology, ROLES } from './clinical/terminology.js';
import type { OrderableCodes, Orderables } from './cards/orderables.js';
import { ORDERABLE_KEYS, resolveOrderables } from './cards/orderables.js';
import { ConfigError } from './config.js';
import { FileReadError, readRegularFile } from './read-file.js';

/** The project root (the folder holding package.json), from src/ or dist/src/ alike. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fhir-profiles'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the project root (package.json next to fhir-profiles/)');
}

export const PROFILES_DIR = (): string => join(projectRoot(), 'fhir-profiles');

/** Every `ValueSet-*.json` of `dir`. */
export function loadValueSets(dir = PROFILES_DIR()): ValueSet[] {
  const files = readdirSync(dir)
    .filter((f) => /^ValueSet-.+\.json$/.test(f))
    .sort();
  return files.map((file) => {
    const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Partial<ValueSet>;
    if (parsed.resourceType !== 'ValueSet' || !parsed.id) throw new ConfigError([`${file}: not a ValueSet with an id`]);
    return parsed as ValueSet;
  });
}

/**
 * The YAML parser, loaded when a hospital file is first read: its 70 modules are a tenth of the
 * service's start-up, and most deployments configure no file.
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;
  const doc = yaml.parseDocument(text, { schema: 'core' });
  // An unknown tag (`!foo`, `!!js/function`) is an error here, not a warning on stderr.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  const value: unknown = doc.toJS();
  const notJson = notJsonAt(value, '', 0);
  if (notJson) throw new Error(notJson);
  return value;
}

/**
 * Where a parsed hospital file holds something JSON cannot (YAML 1.1's `!!binary`, `!!set`,
 * `!!timestamp`…) or a `__proto__` key, which a plain object would swallow: undefined when nowhere.
 */
function notJsonAt(value: unknown, path: string, depth: number): string | undefined {
  const at = path || '(root)';
  if (depth > 64) return `${at}: nested deeper than 64 levels`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${at}: not a finite number`;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const problem = notJsonAt(v, `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype)
    return `${at}: not a JSON value (a YAML type such as !!binary, !!set or !!timestamp)`;
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__') return `${path ? `${path}.` : ''}__proto__: not an allowed key`;
    const problem = notJsonAt(v, path ? `${path}.${k}` : k, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** Largest hospital file read (thresholds, local codes): far above any real one, far below memory's limits. */
export const MAX_HOSPITAL_FILE_BYTES = 10 * 1_048_576;

function readStructured(path: string, variable: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readRegularFile(path, MAX_HOSPITAL_FILE_BYTES));
  } catch (error) {
    const why = error instanceof FileReadError ? error.message : 'not UTF-8 text';
    throw new ConfigError([`${variable}: cannot read ${path} (${why})`]);
  }
  try {
    return parseYaml(text); // YAML is a superset of JSON: both formats are accepted
  } catch (error) {
    throw new ConfigError([
      `${variable}: ${path} is not valid JSON or YAML (${(error as Error).message.split('\n')[0] ?? ''})`,
    ]);
  }
}

function zodProblems(variable: string, path: string, error: z.ZodError): ConfigError {
  return new ConfigError(error.issues.map((i) => `${variable} ${path}: ${i.path.join('.') || '(root)'}: ${i.message}`));
}

/** What the messages call the hospital files: the service's variables, or the CLI's options. */
export interface HospitalFileNames {
  thresholds: string;
  localCodes: string;
}

const VARIABLES: HospitalFileNames = { thresholds: 'THRESHOLDS_FILE', localCodes: 'LOCAL_CODES_FILE' };

/** The hospital thresholds (defaults when no file is configured). */
export function loadThresholds(path: string | undefined, name = VARIABLES.thresholds): HospitalThresholds {
  if (!path) return DEFAULT_HOSPITAL_THRESHOLDS;
  const raw = readStructured(path, name);
  try {
    return parseThresholds(raw);
  } catch (error) {
    if (error instanceof z.ZodError) throw zodProblems(name, path, error);
    throw error;
  }
}

/** A name cards show (a lab's label, a product): one line of text, of a length a card can hold. */
const shownName = (max: number): z.ZodString =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\u2028\u2029]+$/u, 'must be one line of text');

const localCodeSchema = z.strictObject({
  system: z.string().min(1),
  code: z.string().min(1),
  display: shownName(200).optional(),
  product: shownName(80).optional(),
  /** A long-acting G-CSF (as pegfilgrastim): one dose counts for actions.longActingGcsfDays. */
  longActing: z.boolean().optional(),
});
const localCodesSchema = z.partialRecord(z.enum(ROLES), z.array(localCodeSchema));
/** The hospital's own orderable codes, by suggested order (src/cards/orderables.ts). */
const orderableCodesSchema = z.partialRecord(
  z.enum(ORDERABLE_KEYS),
  z
    .array(z.strictObject({ system: z.string().min(1), code: z.string().min(1), display: z.string().optional() }))
    .min(1),
);
const localCodesFileSchema = z.strictObject({ codes: localCodesSchema, orderables: orderableCodesSchema.optional() });

/** The local codes file, read and checked once: its codes by role and its orderables (none without a file). */
function loadLocalCodesFile(path: string | undefined, name: string): { codes: LocalCodes; orderables: OrderableCodes } {
  if (!path) return { codes: {}, orderables: {} };
  const parsed = localCodesFileSchema.safeParse(readStructured(path, name));
  if (!parsed.success) throw zodProblems(name, path, parsed.error);
  return { codes: parsed.data.codes, orderables: parsed.data.orderables ?? {} };
}

/** The hospital's local codes, keyed by role (ValueSet id). */
export function loadLocalCodes(path: string | undefined, name = VARIABLES.localCodes): LocalCodes {
  return loadLocalCodesFile(path, name).codes;
}

/** The hospital's own orderable codes: the `orderables` section of the local codes file (none without one). */
export function loadOrderableCodes(path: string | undefined, name = VARIABLES.localCodes): OrderableCodes {
  return loadLocalCodesFile(path, name).orderables;
}

export interface ClinicalContext extends EngineSettings {
  /** What the terminology was built from, handed to the SMART app so it runs the same engine. */
  valueSets: readonly ValueSet[];
  localCodes: LocalCodes;
  /** The codes card suggestions order by: the hospital's where configured, standard ones elsewhere. */
  orderables: Orderables;
}

export function loadClinicalContext(options: {
  thresholdsFile?: string | undefined;
  localCodesFile?: string | undefined;
  timeZone: string;
  /** Default: the service's variables (THRESHOLDS_FILE, LOCAL_CODES_FILE). */
  names?: HospitalFileNames;
}): ClinicalContext {
  const names = options.names ?? VARIABLES;
  const valueSets = loadValueSets();
  const { codes: localCodes, orderables } = loadLocalCodesFile(options.localCodesFile, names.localCodes);
  return {
    terminology: buildTerminology(valueSets, localCodes),
    thresholds: loadThresholds(options.thresholdsFile, names.thresholds),
    timeZone: options.timeZone,
    valueSets,
    localCodes,
    orderables: resolveOrderables(orderables),
  };
}

/** The engine's part of the context (without the ValueSets and local codes it was built from). */
export function engineSettings(c: ClinicalContext): EngineSettings {
  return { terminology: c.terminology, thresholds: c.thresholds, timeZone: c.timeZone };
}
export { requiredLookbackDays } from './clinical/thresholds.js';
