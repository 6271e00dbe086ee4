/**
 * A patient's record from a heap of FHIR resources: keeps the resources of one patient (others are
 * reported and dropped), and turns medications, procedures and conditions into dated events
 * (CAR-T infusion, lymphodepletion, G-CSF, transfusions, tocilizumab, steroids, IVIG, CRS).
 */
import type {
  CodeableConcept,
  Condition,
  FhirResource,
  Medication,
  MedicationAdministration,
  MedicationRequest,
  Observation,
  Patient,
  Procedure,
  Reference,
} from 'fhir/r4.js';
import { readInstant } from './dates.js';
import { compareVersions } from './versions.js';
import type { Role, Terminology } from './terminology.js';
import type { AssessmentIssue, ClinicalEvent, EventKind } from './types.js';
import { recordText } from './record-text.js';

export interface PatientRecord {
  patientId: string;
  patient?: Patient;
  observations: Observation[];
  medicationAdministrations: MedicationAdministration[];
  medicationRequests: MedicationRequest[];
  procedures: Procedure[];
  conditions: Condition[];
  medications: Map<string, Medication>;
}

/** The patient id a reference points at (`Patient/1`, absolute URLs and versions included). */
export function patientIdOf(reference: Reference | undefined): string | undefined {
  const ref: unknown = reference?.reference;
  if (typeof ref !== 'string' || !ref) return undefined; // types the input screen does not check may carry anything
  if (ref.startsWith('Patient/') && ref.indexOf('/', 8) < 0)
    return ref.length > 8 && ref.length <= 72 ? ref.slice(8) : undefined;
  const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return match?.[1];
}

function subjectOf(resource: FhirResource): Reference | undefined {
  const r = resource as { subject?: unknown; patient?: unknown };
  const ref = r.subject ?? r.patient;
  return ref && typeof ref === 'object' ? ref : undefined;
}

/**
 * The id of the Patient resource, which says whose record this is. The first Patient usually comes
 * first and has an id: then the others are checked against it while the record is built (one pass
 * over a large record, not two); otherwise every Patient is looked at here.
 */
function manyPatients(count: number): RecordError {
  return new RecordError(`the resources concern ${count} patients; give one patient's resources`);
}

function recordPatientId(resources: readonly FhirResource[]): string | undefined {
  const first = resources.find((r): r is Patient => r.resourceType === 'Patient');
  if (first?.id) return first.id;
  const ids = new Set(resources.filter((r): r is Patient => r.resourceType === 'Patient').map((p) => p.id ?? ''));
  if (ids.size > 1) throw manyPatients(ids.size);
  return [...ids][0] || undefined;
}

/**
 * Builds the record of `patientId` (or of the only patient present) from `resources`.
 * Resources about another patient, or about no identifiable patient, are left out and reported.
 */
export function recordFromResources(
  resources: readonly FhirResource[],
  patientId?: string,
): { record: PatientRecord; issues: AssessmentIssue[] } {
  const issues: AssessmentIssue[] = [];
  let id = patientId ?? recordPatientId(resources);
  if (!id) {
    const candidates = new Set<string>(
      resources
        .filter(isClinical)
        .map((r) => patientIdOf(subjectOf(r)) ?? '')
        .filter(Boolean),
    );
    if (candidates.size > 1) throw manyPatients(candidates.size);
    id = [...candidates][0];
  }
  if (!id) throw new RecordError('no patient: give a Patient resource or resources with a subject');
  const record: PatientRecord = {
    patientId: id,
    observations: [],
    medicationAdministrations: [],
    medicationRequests: [],
    procedures: [],
    conditions: [],
    medications: new Map(),
  };
  const ownId: string = id;
  const expected = `Patient/${ownId}`;
  const patientIds = new Set<string>();
  // Administrations, orders, procedures and conditions given more than once (search pages, prefetch
  // keys) are kept once, the later version: a dose counted twice reads "(2 doses)", a transfusion
  // twice doubles a count. Observations are kept once later, by normalizeObservations.
  const kept = new Map<string, Kept>();
  for (let i = 0; i < resources.length; i++) {
    const resource = resources[i] as FhirResource;
    if (resource.resourceType === 'Patient') {
      patientIds.add(resource.id ?? '');
      if (resource.id !== ownId) {
        // Not the patient assessed (ids are case-sensitive): its sex, birth date and death are not
        // this patient's, and are said to be left out, as for any resource of another patient.
        const message = resource.id ? 'is another patient; not used' : 'has no id; not used';
        const reference = `Patient/${resource.id ?? '(no id)'}`;
        issues.push({ severity: 'warning', code: 'patient-mismatch', message, resource: reference });
      } else if (!record.patient || laterVersion(resource, record.patient, issues)) record.patient = resource;
      continue;
    }
    if (resource.resourceType === 'Medication' && resource.id) {
      const key = `Medication/${resource.id}`; // the key medicationKey() gives
      const known = record.medications.get(key);
      if (!known || laterVersion(resource, known, issues)) record.medications.set(key, resource);
      continue;
    }
    if (!isClinical(resource)) continue;
    const subject = subjectOf(resource);
    // Fast path: the usual relative reference; anything else is parsed.
    const owner = subject?.reference === expected ? ownId : patientIdOf(subject);
    if (owner !== ownId) {
      const reference = `${resource.resourceType}/${resource.id ?? '(no id)'}`;
      const message = owner ? 'belongs to another patient; not used' : 'names no patient; not used';
      issues.push({ severity: 'warning', code: 'patient-mismatch', message, resource: reference });
      continue;
    }
    switch (resource.resourceType) {
      case 'Observation':
        record.observations.push(resource);
        break;
      case 'MedicationAdministration':
        keepOnce(kept, resource, record.medicationAdministrations, issues);
        break;
      case 'MedicationRequest':
        keepOnce(kept, resource, record.medicationRequests, issues);
        break;
      case 'Procedure':
        keepOnce(kept, resource, record.procedures, issues);
        break;
      case 'Condition':
        keepOnce(kept, resource, record.conditions, issues);
        break;
      default:
        break;
    }
  }
  if (!patientId && patientIds.size > 1) throw manyPatients(patientIds.size);
  return { record, issues };
}

/** Where a resource with an id was kept: its list and its place in it. */
interface Kept {
  list: FhirResource[];
  index: number;
}

/**
 * Adds `resource` to `list` unless a version of it (same type and id) is there: then the later
 * version (compareVersions) takes its place, and of two the metadata cannot order, the first stays
 * (said in `issues` when they differ: an infusion given twice with two dates is two day 0s).
 */
function keepOnce<R extends FhirResource>(
  kept: Map<string, Kept>,
  resource: R,
  list: R[],
  issues: AssessmentIssue[],
): void {
  if (!resource.id) {
    list.push(resource);
    return;
  }
  const key = `${resource.resourceType}/${resource.id}`;
  const known = kept.get(key);
  if (!known) {
    kept.set(key, { list, index: list.push(resource) - 1 });
    return;
  }
  if (laterVersion(resource, known.list[known.index] as R, issues)) known.list[known.index] = resource;
}

/**
 * Whether `resource` is a later version of `known` (same type and id) by its metadata. Two that
 * the metadata cannot order and that differ are reported (`version-ambiguous`, as for Observations),
 * and the first given stays; the same resource given twice (two search pages, two prefetch keys) is
 * not.
 */
function laterVersion(resource: FhirResource, known: FhirResource, issues: AssessmentIssue[]): boolean {
  const order = compareVersions(resource, known);
  if (order !== 0) return order > 0;
  if (JSON.stringify(resource) !== JSON.stringify(known)) {
    const reference = `${resource.resourceType}/${resource.id ?? ''}`;
    issues.push({
      severity: 'warning',
      code: 'version-ambiguous',
      message: `${reference} is given twice with different content and nothing that tells which is current (meta.versionId, meta.lastUpdated); the first given was used`,
      resource: reference,
    });
  }
  return false;
}

const CLINICAL_TYPES: ReadonlySet<string> = new Set([
  'Observation',
  'MedicationAdministration',
  'MedicationRequest',
  'Procedure',
  'Condition',
]);

function isClinical(resource: FhirResource): boolean {
  return CLINICAL_TYPES.has(resource.resourceType);
}

export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

const MEDICATION_EVENTS: [Role, EventKind][] = [
  ['car-t-product', 'car-t'],
  ['lymphodepletion', 'lymphodepletion'],
  ['tocilizumab', 'tocilizumab'],
  ['corticosteroid', 'corticosteroid'],
  ['g-csf', 'g-csf'],
  ['ivig', 'ivig'],
];
const PROCEDURE_EVENTS: [Role, EventKind][] = [
  ['car-t-infusion-procedure', 'car-t'],
  ['red-cell-transfusion', 'red-cell-transfusion'],
  ['platelet-transfusion', 'platelet-transfusion'],
  ['transfusion-unspecified', 'transfusion-unspecified'],
  ['leukapheresis', 'leukapheresis'],
  ['marrow-evaluation', 'marrow-evaluation'],
  ['allogeneic-hsct-procedure', 'allogeneic-hsct'],
];

const NOT_GIVEN = new Set(['not-done', 'entered-in-error', 'preparation']);
const CRS_ROLES: readonly Role[] = ['crs-condition'];

/**
 * Medication code of an administration: inline, contained, or a Medication in the record (named
 * relatively, absolutely or with a version). `unresolved` says why what was given is not known:
 * the reference names a Medication the record does not hold, one without a code, or none at all.
 */
function medicationConcept(
  ma: MedicationAdministration,
  record: PatientRecord,
): { concept: CodeableConcept | undefined; unresolved?: string } {
  if (ma.medicationCodeableConcept)
    return namesADrug(ma.medicationCodeableConcept)
      ? { concept: ma.medicationCodeableConcept }
      : { concept: undefined, unresolved: NAMED_BY_NOTHING };
  if (!ma.medicationReference) return { concept: undefined, unresolved: NO_DRUG };
  const ref: unknown = ma.medicationReference.reference;
  if (typeof ref !== 'string' || !ref) {
    const display = ma.medicationReference.display;
    // Named by text only: matched by name as a draft order is (medicationEvents), else unknown.
    return nonEmpty(display)
      ? { concept: { text: display }, unresolved: 'its drug is named by text only, with no reference to a Medication' }
      : { concept: undefined, unresolved: NO_DRUG };
  }
  const contained = ref.startsWith('#');
  const found = contained
    ? (ma.contained?.find((c) => c.resourceType === 'Medication' && c.id === ref.slice(1)) as Medication | undefined)
    : record.medications.get(medicationKey(ref) ?? ref);
  if (found?.code && namesADrug(found.code)) return { concept: found.code };
  return { concept: undefined, unresolved: unresolvedReason(ref, contained, found !== undefined) };
}

const NO_DRUG = 'it names no drug';
const NAMED_BY_NOTHING = 'its drug is recorded with neither a code nor a name';
const nonEmpty = (s: unknown): boolean => typeof s === 'string' && s.trim() !== '';

/**
 * Whether a drug concept names anything: a coding with a code, a text or a display. An empty one
 * (`{}`, `{"coding": []}`, `{"text": ""}`) says nothing of what was given or ordered: it may be any
 * drug, G-CSF included, so it is reported as unknown rather than read as some other drug.
 */
export function namesADrug(c: CodeableConcept): boolean {
  return nonEmpty(c.text) || (c.coding ?? []).some((x) => nonEmpty(x.code) || nonEmpty(x.display));
}

/**
 * Why an administration's Medication gives no drug, as a card says it in brackets after the
 * administration, naming the Medication by its checked `Medication/<id>` or contained `#id`, never
 * by the reference's own text (input, which could carry markdown into a card).
 */
function unresolvedReason(ref: string, contained: boolean, held: boolean): string {
  if (contained) {
    if (!/^#[A-Za-z0-9\-.]{1,64}$/.test(ref)) return 'its contained Medication is named by an id that is not a FHIR id';
    return held ? `its contained Medication ${ref} has no drug code` : `its contained Medication ${ref} is missing`;
  }
  const key = medicationKey(ref);
  if (key !== undefined) return held ? `${key} has no drug code` : `${key} was not in the data received`;
  // A URN (a transaction's urn:uuid:) names an entry, whatever its type: one that was not sent or was left out.
  if (/^urn:/i.test(ref)) return 'its drug reference names nothing in the data received';
  return 'its drug reference is not to a Medication';
}

/**
 * The `Medication/<id>` keys that administrations in the lists name by reference (not contained)
 * and that no list holds, in the order first named: what a reader must fetch for the
 * engine to know what was given (cds-services/record-medications.ts, the SMART app).
 */
export function medicationsToRead(...lists: readonly (readonly FhirResource[])[]): string[] {
  const present = new Set<string>();
  const named = new Set<string>();
  // Several lists rather than one: a caller holding its resources per search key need not copy
  // them all (5,000 Observations and more) into one list to be passed over here.
  for (const resources of lists) {
    for (let i = 0; i < resources.length; i++) {
      const r = resources[i];
      if (!r || typeof r !== 'object') continue; // input: anything until screened
      if (r.resourceType === 'Medication' && r.id) present.add(`Medication/${r.id}`);
      if (r.resourceType !== 'MedicationAdministration' || r.medicationCodeableConcept) continue;
      const ref: unknown = r.medicationReference?.reference;
      const key = typeof ref === 'string' && !ref.startsWith('#') ? medicationKey(ref) : undefined;
      if (key) named.add(key);
    }
  }
  return [...named].filter((k) => !present.has(k));
}

/** `Medication/<id>` from a reference to a Medication: relative, absolute, or with a version. */
export function medicationKey(ref: string): string | undefined {
  const match = /(?:^|\/)Medication\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return match ? `Medication/${match[1]}` : undefined;
}

const tableRoles = new WeakMap<readonly [Role, EventKind][], Role[]>();
/** The roles of a (constant) table, one array per table: the terminology caches its lookup per array. */
function rolesOf(table: readonly [Role, EventKind][]): Role[] {
  let roles = tableRoles.get(table);
  if (!roles) {
    roles = table.map(([role]) => role);
    tableRoles.set(table, roles);
  }
  return roles;
}

function matchKind(
  terminology: Terminology,
  concept: CodeableConcept | undefined,
  table: [Role, EventKind][],
  byName = false,
): { kind: EventKind; product?: string; display?: string; longActing?: true } | undefined {
  const roles = rolesOf(table);
  // By name only when no coding matches: a hospital's own drug code with "filgrastim-sndz (ZARXIO)"
  // as its text (docs/clinical-logic.md §1, as for orders; never for a non-systemic form).
  const info = terminology.match(concept, roles) ?? (byName ? terminology.matchName(concept, roles) : undefined);
  if (!info) return undefined;
  const kind = table.find(([role]) => role === info.role)?.[1];
  return kind
    ? {
        kind,
        ...(info.product ? { product: info.product } : {}),
        ...(info.display ? { display: info.display } : {}),
        ...(info.longActing ? { longActing: true as const } : {}),
      }
    : undefined;
}

type PushEvent = (
  kind: EventKind,
  when: string | undefined,
  reference: string,
  display: string,
  extra?: Partial<ClinicalEvent>,
) => void;

/** Dated events of the record; `day` is filled in once day 0 is known. */
export function extractEvents(
  record: PatientRecord,
  terminology: Terminology,
  timeZone: string,
  asOf?: string,
): { events: ClinicalEvent[]; issues: AssessmentIssue[] } {
  const events: ClinicalEvent[] = [];
  const issues: AssessmentIssue[] = [];
  const push: PushEvent = (kind, when, reference, display, extra = {}) => {
    const instant = readInstant(when, timeZone);
    if (!instant) {
      issues.push({
        severity: 'warning',
        code: 'date-missing',
        message: `${recordText(display)}: no date to the day; not used`,
        resource: reference,
        event: kind,
      });
      return;
    }
    events.push({
      kind,
      time: when ?? instant.date,
      ms: instant.ms,
      date: instant.date,
      day: null,
      reference,
      display,
      ...extra,
    });
  };
  medicationEvents(record, terminology, push, issues, (when) => {
    const date = readInstant(when, timeZone)?.date;
    return asOf !== undefined && date !== undefined && date > asOf;
  });
  procedureEvents(record, terminology, push, issues);
  crsEvents(record, terminology, timeZone, push);
  events.sort((a, b) => a.ms - b.ms);
  return { events, issues };
}

/**
 * When an administration was given: its time, or its period's start, or, for a period recorded with
 * only its end, the end (given by then; a CAR-T product or a dose is given within the day).
 */
function givenAt(ma: MedicationAdministration): string | undefined {
  return ma.effectiveDateTime ?? ma.effectivePeriod?.start ?? ma.effectivePeriod?.end;
}

/**
 * CAR-T product, lymphodepletion, tocilizumab, steroids, G-CSF and IVIG given. An administration
 * whose Medication is not in the record is reported (`medication-unknown`): it may be any of them.
 */
function medicationEvents(
  record: PatientRecord,
  terminology: Terminology,
  push: PushEvent,
  issues: AssessmentIssue[],
  afterAsOf: (when: string | undefined) => boolean,
): void {
  const reported = new Set<string>();
  for (const ma of record.medicationAdministrations) {
    if (NOT_GIVEN.has(ma.status)) continue;
    const { concept, unresolved } = medicationConcept(ma, record);
    // A drug named by text only is recognised by that name when it is one the service knows.
    const named =
      unresolved !== undefined && concept ? matchKind(terminology, concept, MEDICATION_EVENTS, true) : undefined;
    if (unresolved !== undefined && !named) {
      // Once per administration (a record may hold it twice), and not for one dated after the
      // assessment date, which would not count whatever it was.
      const resource = `MedicationAdministration/${ma.id ?? '(no id)'}`;
      if ((ma.id && reported.has(resource)) || afterAsOf(givenAt(ma))) continue;
      reported.add(resource);
      issues.push({
        severity: 'warning',
        code: 'medication-unknown',
        message: `${unresolved}: what was given is not known`,
        resource,
      });
      continue;
    }
    const match = named ?? matchKind(terminology, concept, MEDICATION_EVENTS, true);
    if (!match) continue;
    const display = concept?.text ?? match.display ?? match.kind;
    const when = givenAt(ma);
    push(match.kind, when, `MedicationAdministration/${ma.id ?? '(no id)'}`, display, {
      ...(match.product ? { product: match.product } : {}),
      ...(match.longActing ? { longActing: match.longActing } : {}),
    });
  }
}

/** CAR-T infusion procedures and transfusions; a transfusion without product is noted in `issues`. */
function procedureEvents(
  record: PatientRecord,
  terminology: Terminology,
  push: PushEvent,
  issues: AssessmentIssue[],
): void {
  for (const p of record.procedures) {
    if (NOT_GIVEN.has(p.status)) continue;
    const match = matchKind(terminology, p.code, PROCEDURE_EVENTS);
    if (!match) continue;
    const reference = `Procedure/${p.id ?? '(no id)'}`;
    if (match.kind === 'transfusion-unspecified') {
      issues.push({
        severity: 'information',
        code: 'transfusion-product-unknown',
        message:
          'transfusion without product: treated as possibly red cells and possibly platelets ' +
          '(neither recovery counts in the transfusion-free period after it)',
        resource: reference,
      });
    }
    const display = p.code?.text ?? match.display ?? match.kind;
    push(
      match.kind,
      p.performedDateTime ?? p.performedPeriod?.start ?? p.performedPeriod?.end,
      reference,
      display,
      match.product ? { product: match.product } : {},
    );
  }
}

/** CRS conditions (not entered in error or refuted), with their grade and end date when known. */
function crsEvents(record: PatientRecord, terminology: Terminology, timeZone: string, push: PushEvent): void {
  for (const c of record.conditions) {
    const verification = c.verificationStatus?.coding?.[0]?.code;
    if (verification === 'entered-in-error' || verification === 'refuted') continue;
    const info = terminology.match(c.code, CRS_ROLES);
    if (!info) continue;
    const end = readInstant(c.abatementDateTime ?? c.abatementPeriod?.end ?? c.abatementPeriod?.start, timeZone);
    const display = c.code?.text ?? info.display ?? 'Cytokine release syndrome';
    push('crs', c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate, `Condition/${c.id ?? '(no id)'}`, display, {
      ...(info.crsGrade !== undefined ? { crsGrade: info.crsGrade } : {}),
      ...(end ? { endDate: end.date } : {}),
    });
  }
}
