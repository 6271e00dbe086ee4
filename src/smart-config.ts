/**
 * The contract between the service and its SMART app: what GET /smart/config.json returns, the
 * scopes the app asks for, and the `iss` allow-list check. Pure (no Node, no DOM): both sides use it.
 */
import type { ValueSet } from 'fhir/r4.js';
import type { LocalCodes } from './clinical/terminology.js';
import type { Thresholds } from './clinical/thresholds.js';

/** SMART App Launch 2.0 scopes: read and search of what the engine reads, patient read, identity. */
export const EHR_LAUNCH_SCOPES =
  'launch patient/Observation.rs patient/MedicationAdministration.rs patient/Procedure.rs patient/Patient.r openid fhirUser';
/** Standalone launch asks the authorization server to pick a patient instead of receiving one. */
export const STANDALONE_LAUNCH_SCOPES = EHR_LAUNCH_SCOPES.replace(/^launch /, 'launch/patient ');

/** The FHIR reads of the app, `{{context.patientId}}` filled in by the app (the cards' prefetch, minus Conditions: not in scope). */
export type AppQueryKey = 'patient' | 'observations' | 'medicationAdministrations' | 'procedures';

export interface SmartAppConfig {
  clientId: string;
  scopes: { ehr: string; standalone: string };
  /** FHIR base URLs the app may be launched against (normalised: no trailing slash). */
  allowedIssuers: string[];
  /** The embedded demo FHIR server (no authorization), when the service runs with DEMO=true. */
  demo: { fhirBasePath: string; patients: { id: string; label: string }[] } | null;
  /** What the engine needs to give the same answers as the cards. */
  clinical: {
    valueSets: ValueSet[];
    localCodes: LocalCodes;
    thresholds: { values: Thresholds; overridden: string[] };
    timeZone: string;
    lookbackDays: number;
  };
  queries: Record<AppQueryKey, string>;
  /** `_count` of the app's searches (FHIR_PAGE_SIZE, as the service's own fetch). */
  pageSize: number;
}

/** `https://ehr.example.org/fhir/` → `https://ehr.example.org/fhir`; null when not an http(s) URL. */
export function normalizeIssuer(iss: string): string | null {
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** True only for an issuer on the allow-list (exact base URL match after normalisation). */
export function issuerAllowed(iss: string | null | undefined, allowed: readonly string[]): boolean {
  if (!iss) return false;
  const normalized = normalizeIssuer(iss);
  return normalized !== null && allowed.some((a) => normalizeIssuer(a) === normalized);
}
