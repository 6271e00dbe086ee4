/**
 * The contract between the service and its SMART app: what GET /smart/config.json returns, the
 * scopes the app asks for, the `iss` allow-list check, and the launch settings (EHR-only issuers,
 * frame ancestors, authorization-server origins). Pure (no Node, no DOM): both sides use it.
 */
import type { ValueSet } from 'fhir/r4.js';
import type { LocalCodes } from './clinical/terminology.js';
import type { Thresholds } from './clinical/thresholds.js';

/**
 * SMART App Launch 2.0 scopes: search/read of exactly what the engine reads (Conditions for CRS
 * recorded as a diagnosis) and `online_access`, so that an authorization server may give a refresh
 * token that outlives a short access token while the app stays open on the ward. No `openid
 * fhirUser`: the app does not show or use the user's identity.
 */
export const EHR_LAUNCH_SCOPES = [
  'launch',
  'online_access',
  'patient/Patient.r',
  'patient/Observation.rs',
  'patient/MedicationAdministration.rs',
  'patient/Medication.rs',
  'patient/Procedure.rs',
  'patient/Condition.rs',
].join(' ');
/** Standalone launch asks the authorization server to pick a patient instead of receiving one. */
export const STANDALONE_LAUNCH_SCOPES = EHR_LAUNCH_SCOPES.replace(/^launch /, 'launch/patient ');

/** The FHIR reads of the app, `{{context.patientId}}` filled in by the app (the cards' prefetch). */
export type AppQueryKey = 'patient' | 'observations' | 'medicationAdministrations' | 'procedures' | 'conditions';

export interface SmartAppConfig {
  clientId: string;
  scopes: { ehr: string; standalone: string };
  /** FHIR base URLs the app may be launched against (normalised: no trailing slash). */
  allowedIssuers: string[];
  /** The allowed issuers offered for standalone launch (SMART_EHR_ONLY_ISS left out). */
  standaloneIssuers: string[];
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

/**
 * True when the granted scopes let the app search `resourceType` for the patient: SMART v2
 * (`patient/Condition.rs`, `patient/*.cruds`, with or without a `?` restriction) or v1
 * (`patient/Condition.read`, `patient/*.*`). `user/` scopes count too. A token response without
 * `scope` means the requested scopes were granted (RFC 6749 §5.1).
 */
export function scopeAllowsSearch(granted: string | undefined, resourceType: string, requested: string): boolean {
  const scopes = (granted ?? requested).split(/\s+/).filter(Boolean);
  return scopes.some((scope) => {
    const match = /^(?:patient|user)\/([A-Za-z*]+)\.([a-z*]+)(?:\?.*)?$/.exec(scope);
    if (!match || (match[1] !== resourceType && match[1] !== '*')) return false;
    const access = match[2] ?? '';
    return access === 'read' || access === '*' || (/^c?r?u?d?s?$/.test(access) && access.includes('s'));
  });
}

/** Launch settings of the SMART app beyond the allow-list (see the README's configuration table). */
export interface SmartLaunchSettings {
  /** Allowed issuers offered for standalone launch: SMART_ALLOWED_ISS minus SMART_EHR_ONLY_ISS. */
  standaloneIss: string[];
  /** Origins allowed to embed the app (CSP frame-ancestors, after 'self'). */
  frameAncestors: string[];
  /** Origins of token endpoints not on a FHIR server's origin (CSP connect-src). */
  authOrigins: string[];
}

const asOrigin = (value: string): string | null =>
  URL.canParse(value) && new URL(value).origin === value.replace(/\/+$/, '') ? new URL(value).origin : null;

/** Validates SMART_EHR_ONLY_ISS, SMART_FRAME_ANCESTORS and SMART_AUTH_ORIGINS against the allow-list. */
export function smartLaunchSettings(
  allowedIss: readonly string[],
  env: { ehrOnly: readonly string[]; frameAncestors: readonly string[]; authOrigins: readonly string[] },
  allowHttp: boolean,
): { settings: SmartLaunchSettings; problems: string[] } {
  const problems: string[] = [];
  const ehrOnly = env.ehrOnly.map((iss) => {
    const normalized = normalizeIssuer(iss);
    if (!normalized || !allowedIss.includes(normalized))
      problems.push(`SMART_EHR_ONLY_ISS: "${iss}" is not one of SMART_ALLOWED_ISS`);
    return normalized;
  });
  const origins = (name: string, values: readonly string[]): string[] =>
    values.flatMap((value) => {
      const origin = asOrigin(value);
      if (!origin || !/^https?:$/.test(new URL(origin).protocol))
        problems.push(`${name}: "${value}" is not an origin like https://ehr.example.org`);
      else if (origin.startsWith('http:') && !allowHttp)
        problems.push(`${name}: "${value}" is not https (set FHIR_ALLOW_HTTP=true for a test server)`);
      else return [origin];
      return [];
    });
  return {
    settings: {
      standaloneIss: allowedIss.filter((iss) => !ehrOnly.includes(iss)),
      frameAncestors: origins('SMART_FRAME_ANCESTORS', env.frameAncestors),
      authOrigins: origins('SMART_AUTH_ORIGINS', env.authOrigins),
    },
    problems,
  };
}
