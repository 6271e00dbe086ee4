/**
 * The shape the engine reads, checked per resource before anything reaches `src/clinical/`.
 *
 * EHRs send non-conformant resources (a number where FHIR has a string, an object where it has an
 * array). One such resource must cost the patient that resource, not their cards: each resource is
 * checked against a zod schema of the FHIR R4 elements the engine reads (other elements pass
 * untouched), and one that does not fit is left out and reported as an issue naming its type, id,
 * the element and why. Types the engine does not read pass unchecked (the engine ignores them).
 *
 * Pure (zod only), so the SMART app screens its resources with the same schemas.
 */
import type { FhirResource } from 'fhir/r4.js';
import { z } from 'zod';
import type { AssessmentIssue } from '../clinical/types.js';
import { RESOURCE_CHECKS } from './resource-check.js';

/** Longest string element accepted (FHIR R4 limits a string to 1 MB; nothing we read is near that). */
const MAX_STRING = 16_384;
const str = z.string().max(MAX_STRING);
/** FHIR R4 `id` (datatypes.html#id). */
const fhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, 'is not a FHIR id ([A-Za-z0-9-.]{1,64})');
const code = z.string().max(256);
const dateTime = z.string().max(64);

/**
 * The most items an array of a resource may hold: zod words one issue per bad item, and a resource
 * with a million (a 3 MB body) held gigabytes before its first issue was read. A bound stops it at
 * the array. Real resources hold a few codings, ranges, notes.
 */
const MAX_ITEMS = 1000;
const list = <T extends z.ZodType>(item: T): z.ZodArray<T> => z.array(item).max(MAX_ITEMS);
const coding = z.looseObject({ system: str.optional(), code: str.optional(), display: str.optional() });
const codeableConcept = z.looseObject({ coding: list(coding).optional(), text: str.optional() });
const reference = z.looseObject({ reference: str.optional(), display: str.optional() });
const quantity = z.looseObject({
  value: z.number().optional(),
  comparator: z.enum(['<', '<=', '>=', '>']).optional(),
  unit: str.optional(),
  system: str.optional(),
  code: str.optional(),
});
const period = z.looseObject({ start: dateTime.optional(), end: dateTime.optional() });
const meta = z.looseObject({ versionId: str.optional(), lastUpdated: str.optional() });

const base = { id: fhirId.optional(), meta: meta.optional() };

const medication = z.looseObject({ resourceType: z.literal('Medication'), ...base, code: codeableConcept.optional() });
/** Contained resources: a contained Medication is read, anything else only needs a type. */
const contained = z
  .array(
    z.union([
      medication,
      z.looseObject({
        resourceType: z
          .string()
          .max(64)
          .refine((t) => t !== 'Medication'),
      }),
    ]),
  )
  .optional();

const observation = z.looseObject({
  resourceType: z.literal('Observation'),
  ...base,
  status: code,
  code: codeableConcept,
  subject: reference.optional(),
  effectiveDateTime: dateTime.optional(),
  effectivePeriod: period.optional(),
  effectiveInstant: dateTime.optional(),
  valueQuantity: quantity.optional(),
  valueInteger: z.number().int().optional(),
  valueCodeableConcept: codeableConcept.optional(),
  dataAbsentReason: codeableConcept.optional(),
  referenceRange: list(z.looseObject({ low: quantity.optional(), high: quantity.optional() })).optional(),
});

const medicationAdministration = z.looseObject({
  resourceType: z.literal('MedicationAdministration'),
  ...base,
  status: code,
  medicationCodeableConcept: codeableConcept.optional(),
  medicationReference: reference.optional(),
  contained,
  subject: reference.optional(),
  effectiveDateTime: dateTime.optional(),
  effectivePeriod: period.optional(),
});

const procedure = z.looseObject({
  resourceType: z.literal('Procedure'),
  ...base,
  status: code,
  code: codeableConcept.optional(),
  subject: reference.optional(),
  performedDateTime: dateTime.optional(),
  performedPeriod: period.optional(),
});

const condition = z.looseObject({
  resourceType: z.literal('Condition'),
  ...base,
  code: codeableConcept.optional(),
  subject: reference.optional(),
  verificationStatus: codeableConcept.optional(),
  onsetDateTime: dateTime.optional(),
  onsetPeriod: period.optional(),
  recordedDate: dateTime.optional(),
  abatementDateTime: dateTime.optional(),
  abatementPeriod: period.optional(),
});

const patient = z.looseObject({
  resourceType: z.literal('Patient'),
  ...base,
  gender: code.optional(),
  birthDate: dateTime.optional(),
  deceasedBoolean: z.boolean().optional(),
  deceasedDateTime: dateTime.optional(),
});

const medicationRequest = z.looseObject({
  resourceType: z.literal('MedicationRequest'),
  ...base,
  status: code.optional(),
  medicationCodeableConcept: codeableConcept.optional(),
  medicationReference: reference.optional(),
  contained,
  subject: reference.optional(),
  note: list(z.looseObject({ text: str.optional() })).optional(),
});

const serviceRequest = z.looseObject({
  resourceType: z.literal('ServiceRequest'),
  ...base,
  status: code.optional(),
  code: codeableConcept.optional(),
  orderDetail: list(codeableConcept).optional(),
  note: list(z.looseObject({ text: str.optional() })).optional(),
  subject: reference.optional(),
});

/** The resource types the engine and the order cards read, each with its schema. */
export const RESOURCE_SCHEMAS = {
  Patient: patient,
  Observation: observation,
  MedicationAdministration: medicationAdministration,
  MedicationRequest: medicationRequest,
  Procedure: procedure,
  Condition: condition,
  Medication: medication,
  ServiceRequest: serviceRequest,
} as const;
export type ReadType = keyof typeof RESOURCE_SCHEMAS;

/** The types of a patient's record the engine reads (MedicationRequest and ServiceRequest only as draft orders). */
export const RECORD_TYPES: ReadonlySet<string> = new Set<ReadType>([
  'Patient',
  'Observation',
  'MedicationAdministration',
  'Procedure',
  'Condition',
  'Medication',
]);

export interface Screened<R = FhirResource> {
  resources: R[];
  /** One per resource left out: type, id, the element and why. */
  issues: AssessmentIssue[];
}

function isReadType(type: unknown): type is ReadType {
  return typeof type === 'string' && Object.hasOwn(RESOURCE_SCHEMAS, type);
}

/** `Observation/abc`, or the type alone when the id is missing or not a FHIR id. */
export function describeResource(value: unknown): string {
  const r = value as { resourceType?: unknown; id?: unknown };
  const type =
    typeof r?.resourceType === 'string' && /^[A-Za-z]{1,64}$/.test(r.resourceType) ? r.resourceType : 'resource';
  const id = typeof r?.id === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(r.id) ? r.id : undefined;
  return id ? `${type}/${id}` : `${type} (no usable id)`;
}

/** The element a zod issue concerns, as a FHIRPath-like expression (`valueQuantity.value`, `code.coding[0]`). */
function elementPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || '(resource)';
}

const anyResource = z.looseObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/, 'is not a FHIR resource type'),
});

/**
 * Checks one resource. Returns it typed when it has the shape the engine reads (types the engine
 * does not read need only a resource type), or the issue that says why it is left out.
 */
export function screenResource(
  value: unknown,
): { ok: true; resource: FhirResource } | { ok: false; issue: AssessmentIssue } {
  const type = (value as { resourceType?: unknown } | null)?.resourceType;
  if (!isReadType(type)) {
    const other = anyResource.safeParse(value);
    if (other.success) return { ok: true, resource: value as FhirResource };
    return {
      ok: false,
      issue: {
        severity: 'warning',
        code: 'resource-invalid',
        message: 'not a FHIR resource (no resourceType); left out',
        resource: 'resource',
      },
    };
  }
  // Most resources fit: accept them without zod's copy; zod says what is wrong with the others.
  if (RESOURCE_CHECKS[type]?.(value)) return { ok: true, resource: value as FhirResource };
  const parsed = RESOURCE_SCHEMAS[type].safeParse(value);
  if (parsed.success) return { ok: true, resource: value as FhirResource };
  const first = parsed.error.issues[0];
  const element = first ? elementPath(first.path) : '(resource)';
  const why = (first?.message ?? 'does not have the expected shape').slice(0, 200);
  const codings = codingsIn(value);
  return {
    ok: false,
    issue: {
      severity: 'warning',
      code: 'resource-invalid',
      message: `${element}: ${why}; resource left out`,
      resource: describeResource(value),
      ...(codings.length > 0 ? { codings } : {}),
    },
  };
}

/** Most nodes and codings codingsIn looks at and keeps: a left-out resource may be of any size or depth. */
const CODING_SCAN = { nodes: 2_000, codings: 20, length: 256 };

/**
 * The codings of a resource that does not have the shape we read, in document order: every object
 * with a string `system` and `code`, wherever it is, but a Quantity's unit (within CODING_SCAN).
 */
function codingsIn(value: unknown): { system: string; code: string }[] {
  const found: { system: string; code: string }[] = [];
  const queue: unknown[] = [value];
  for (let next = 0; next < queue.length && next < CODING_SCAN.nodes && found.length < CODING_SCAN.codings; next++) {
    const node = queue[next];
    if (node === null || typeof node !== 'object') continue;
    const { system, code, value: quantity } = node as { system?: unknown; code?: unknown; value?: unknown };
    if (
      typeof system === 'string' &&
      typeof code === 'string' &&
      quantity === undefined &&
      system !== 'http://unitsofmeasure.org' &&
      system.length <= CODING_SCAN.length &&
      code.length <= CODING_SCAN.length
    )
      found.push({ system, code });
    if (queue.length < CODING_SCAN.nodes)
      for (const child of Array.isArray(node) ? node : Object.values(node))
        if (child !== null && typeof child === 'object') queue.push(child);
  }
  return found;
}

/** Screens a list: the resources the engine can read, and one issue per resource left out. */
export function screenResources(values: Iterable<unknown>): Screened {
  const resources: FhirResource[] = [];
  const issues: AssessmentIssue[] = [];
  for (const value of values) {
    const result = screenResource(value);
    if (result.ok) resources.push(result.resource);
    else issues.push(result.issue);
  }
  return { resources, issues };
}

/**
 * Deepest nesting of objects and arrays a resource we echo back may have (a draft order returned in
 * an update suggestion). FHIR resources nest a dozen levels or so; a hostile one nested thousands
 * deep would overflow the stack of JSON.stringify when the response is written.
 */
export const MAX_ECHOED_DEPTH = 64;

/** Whether `value` nests objects or arrays deeper than `max` levels (counted without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [node, depth] = top;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
