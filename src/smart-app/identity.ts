/**
 * Who the patient is, on screen and on every printed page: the Patient the launch named, never
 * another. A FHIR server that answers `Patient/<id>` with someone else's Patient (a mixed-up cache, a
 * proxy) would otherwise put that person's name and MRN above this patient's counts. Pure (no DOM).
 */
import type { FhirResource, Patient } from 'fhir/r4.js';
import { isFhirId, isObject } from '../fhir/resource-check.js';

/** What identifies the patient on screen and on every printed page. */
export interface PatientIdentity {
  name: string;
  birthDate: string | null;
  /** "MRN DEMO-123" (or "ID …" when the identifier's type is not a medical record number). */
  identifier: string | null;
}

/** A non-empty string, or undefined for anything else a server may send in its place. */
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** The parts of a list that are objects; nothing when it is no list (`identifier` an object). */
const objects = (list: unknown): Record<string, unknown>[] => (Array.isArray(list) ? list.filter(isObject) : []);

/** The MRN (identifier typed MR, or whose system says mrn), else the first identifier with a value. */
function identifierText(identifiers: unknown): string | null {
  const ids = objects(identifiers).filter((i) => text(i['value']) !== undefined);
  const isMrn = (i: Record<string, unknown>): boolean =>
    objects((i['type'] as { coding?: unknown } | undefined)?.coding).some((c) => c['code'] === 'MR');
  const mrn = ids.find(isMrn);
  const chosen = mrn ?? ids[0];
  if (!chosen) return null;
  return `${mrn || /mrn/i.test(text(chosen['system']) ?? '') ? 'MRN' : 'ID'} ${String(chosen['value'])}`;
}

/** The official name (else the first), as its text or given names and family; undefined when none can be read. */
function nameText(names: unknown): string | undefined {
  const readable = objects(names);
  const name = readable.find((n) => n['use'] === 'official') ?? readable[0];
  if (!name) return undefined;
  const given = Array.isArray(name['given']) ? name['given'].filter((g) => text(g) !== undefined) : [];
  return text(name['text']) ?? ([given.join(' '), text(name['family'])].filter(Boolean).join(' ') || undefined);
}

/**
 * What the banner and the printed headers show. The Patient is the EHR's, unchecked beyond its id:
 * a part of it without FHIR's shape (`name` a string, `identifier` an object) is left out, and a
 * name that cannot be read is said to be so, rather than failing the whole view.
 */
export function patientIdentity(patient: Patient | undefined, patientId: string): PatientIdentity {
  const name = nameText(patient?.name);
  // No name, or an empty list, is a name not recorded; anything else that gives none is one not readable.
  const recorded: unknown = patient?.name;
  const unreadable =
    name === undefined && recorded !== undefined && !(Array.isArray(recorded) && recorded.length === 0);
  return {
    name: name ?? `Patient ${patientId}${unreadable ? ' (name not readable)' : ''}`,
    birthDate: text(patient?.birthDate) ?? null,
    identifier: identifierText(patient?.identifier),
  };
}

/**
 * The launched patient's Patient among what the Patient read gave (`read`), or the id of the other
 * patient it gave instead: a Patient is shown only when its id is the launch context's.
 * Undefined patient when the read gave no Patient at all (the banner then names the id).
 */
export function launchedPatient(
  read: readonly FhirResource[],
  patientId: string,
): { patient: Patient | undefined } | { otherPatient: string } {
  const patients = read.filter((r): r is Patient => r.resourceType === 'Patient');
  const launched = patients.find((p) => p.id === patientId);
  if (launched || patients.length === 0) return { patient: launched };
  const other: unknown = patients[0]?.id;
  return { otherPatient: isFhirId(other) ? other : 'a Patient without a valid id' };
}
