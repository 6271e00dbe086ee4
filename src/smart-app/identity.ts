/**
 * Who the patient is, on screen and on every printed page: the Patient the launch named, never
 * another. A FHIR server that answers `Patient/<id>` with someone else's Patient (a mixed-up cache, a
 * proxy) would otherwise put that person's name and MRN above this patient's counts. Pure (no DOM).
 */
import type { FhirResource, Identifier, Patient } from 'fhir/r4.js';
import { isFhirId } from '../fhir/resource-check.js';

/** What identifies the patient on screen and on every printed page. */
export interface PatientIdentity {
  name: string;
  birthDate: string | null;
  /** "MRN DEMO-123" (or "ID …" when the identifier's type is not a medical record number). */
  identifier: string | null;
}

function identifierText(ids: readonly Identifier[] | undefined): string | null {
  const mrn = ids?.find((i) => i.value && i.type?.coding?.some((c) => c.code === 'MR'));
  const chosen = mrn ?? ids?.find((i) => i.value);
  if (!chosen?.value) return null;
  return `${mrn || /mrn/i.test(chosen.system ?? '') ? 'MRN' : 'ID'} ${chosen.value}`;
}

export function patientIdentity(patient: Patient | undefined, patientId: string): PatientIdentity {
  const name = patient?.name?.find((n) => n.use === 'official') ?? patient?.name?.[0];
  const display = name?.text ?? [name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
  return {
    name: display || `Patient ${patientId}`,
    birthDate: patient?.birthDate ?? null,
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
