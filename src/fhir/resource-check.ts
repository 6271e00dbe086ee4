/**
 * The fast path of the resource screen (resource-schemas.ts): plain predicates that accept a
 * resource only when its zod schema would, without building the copy a zod parse returns. A
 * 5,000-Observation prefetch was deep-copied element by element to be thrown away; now only a
 * resource the predicate does not accept goes through zod, which then says what is wrong with it.
 *
 * Each predicate mirrors one schema of resource-schemas.ts, element by element: keep them in step
 * (test/unit/resource-check.test.ts compares both on valid and broken resources).
 */

type Check = (v: unknown) => boolean;
type Shape = Record<string, Check>;

const MAX_STRING = 16_384;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const maxString =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max;
const str = maxString(MAX_STRING);
const code = maxString(256);
const dateTime = maxString(64);
/** A FHIR id: letters, digits, `-` and `.`, at most 64 (R4 `id`). */
export const isFhirId = (v: unknown): v is string => typeof v === 'string' && FHIR_ID.test(v);
const fhirId: Check = isFhirId;
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const int: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v);
const bool: Check = (v) => typeof v === 'boolean';
const COMPARATORS = new Set(['<', '<=', '>=', '>']);

/** A loose object: these elements, each optional unless listed in `required`; others pass. */
function object(shape: Shape, required: readonly string[] = []): Check {
  const keys = Object.keys(shape);
  return (v) => {
    if (!isObject(v)) return false;
    for (const key of keys) {
      const value = v[key];
      if (value === undefined) {
        if (required.includes(key)) return false;
        continue;
      }
      if (!(shape[key] as Check)(value)) return false;
    }
    return true;
  };
}

function array(item: Check): Check {
  return (v) => {
    if (!Array.isArray(v)) return false;
    for (const x of v) if (!item(x)) return false;
    return true;
  };
}

// The elements every resource has are checked with named property reads, which V8 keeps fast on
// the few shapes JSON.parse gives them (`object()` reads by computed key).
const opt = (v: unknown, check: Check): boolean => v === undefined || check(v);
const coding: Check = (v) => isObject(v) && opt(v['system'], str) && opt(v['code'], str) && opt(v['display'], str);
const codings = array(coding);
const codeableConcept: Check = (v) => isObject(v) && opt(v['coding'], codings) && opt(v['text'], str);
const reference: Check = (v) => isObject(v) && opt(v['reference'], str) && opt(v['display'], str);
const quantity: Check = (v) =>
  isObject(v) &&
  opt(v['value'], num) &&
  (v['comparator'] === undefined || COMPARATORS.has(v['comparator'] as string)) &&
  opt(v['unit'], str) &&
  opt(v['system'], str) &&
  opt(v['code'], str);
const period: Check = (v) => isObject(v) && opt(v['start'], dateTime) && opt(v['end'], dateTime);
const meta: Check = (v) => isObject(v) && opt(v['versionId'], str) && opt(v['lastUpdated'], str);
const ranges = array((v) => isObject(v) && opt(v['low'], quantity) && opt(v['high'], quantity));

/** Observation, the bulk of every input, element by element. */
const observation: Check = (v) =>
  isObject(v) &&
  opt(v['id'], fhirId) &&
  opt(v['meta'], meta) &&
  code(v['status']) &&
  codeableConcept(v['code']) &&
  opt(v['subject'], reference) &&
  opt(v['effectiveDateTime'], dateTime) &&
  opt(v['effectivePeriod'], period) &&
  opt(v['effectiveInstant'], dateTime) &&
  opt(v['valueQuantity'], quantity) &&
  opt(v['valueInteger'], int) &&
  opt(v['valueCodeableConcept'], codeableConcept) &&
  opt(v['dataAbsentReason'], codeableConcept) &&
  opt(v['referenceRange'], ranges);
const base: Shape = { id: fhirId, meta };
const medication = object({ resourceType: (v) => v === 'Medication', ...base, code: codeableConcept }, [
  'resourceType',
]);
const contained = array((v) =>
  isObject(v) && v['resourceType'] === 'Medication'
    ? medication(v)
    : isObject(v) && typeof v['resourceType'] === 'string' && v['resourceType'].length <= 64,
);
const notes = array(object({ text: str }));

/** What MedicationAdministration and MedicationRequest share: the medication, given or contained, and whose. */
const medicationUse = {
  ...base,
  status: code,
  medicationCodeableConcept: codeableConcept,
  medicationReference: reference,
  contained,
  subject: reference,
};

/** Per resource type, whether the resource certainly has the shape its schema asks for. */
export const RESOURCE_CHECKS: Readonly<Record<string, Check>> = {
  Observation: observation,
  MedicationAdministration: object(
    {
      ...medicationUse,
      effectiveDateTime: dateTime,
      effectivePeriod: period,
    },
    ['status'],
  ),
  Procedure: object(
    {
      ...base,
      status: code,
      code: codeableConcept,
      subject: reference,
      performedDateTime: dateTime,
      performedPeriod: period,
    },
    ['status'],
  ),
  Condition: object({
    ...base,
    code: codeableConcept,
    subject: reference,
    verificationStatus: codeableConcept,
    onsetDateTime: dateTime,
    onsetPeriod: period,
    recordedDate: dateTime,
    abatementDateTime: dateTime,
    abatementPeriod: period,
  }),
  Patient: object({ ...base, gender: code, birthDate: dateTime, deceasedBoolean: bool, deceasedDateTime: dateTime }),
  Medication: medication,
  MedicationRequest: object({ ...medicationUse, note: notes }),
  ServiceRequest: object({
    ...base,
    status: code,
    code: codeableConcept,
    orderDetail: array(codeableConcept),
    note: notes,
    subject: reference,
  }),
};
