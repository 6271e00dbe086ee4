/**
 * Reading `fhirAuthorization` (CDS Hooks 2.0 "Passing the Access Token to the CDS Service").
 *
 * Tolerant where the spec allows and EHRs differ: `token_type` compared case-insensitively
 * (RFC 6750 treats the scheme so), `expires_in` as a number or a numeric string, `scope` and
 * `subject` optional with a warning. Strict where it matters: without a usable bearer
 * `access_token` the FHIR server is not contacted with this object, and the data it would have given
 * is unavailable (412 only if a required key must be read). The object never fails a call whose
 * prefetch is complete.
 */
export type AccessToken =
  { ok: true; token: string; warnings: string[] } | { ok: false; problem: string; warnings: string[] };

/** RFC 6750 b64token: the only characters a bearer token may contain. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The access token to send to fhirServer, or why there is none. `undefined` input (no
 * fhirAuthorization) is not a problem: the server may be open.
 */
export function readFhirAuthorization(value: unknown): AccessToken | undefined {
  if (value === undefined || value === null) return undefined;
  const warnings: string[] = [];
  if (typeof value !== 'object' || Array.isArray(value))
    return { ok: false, problem: 'fhirAuthorization is not an object', warnings };
  const auth = value as Partial<Record<'access_token' | 'token_type' | 'expires_in' | 'scope' | 'subject', unknown>>;
  if (auth.scope === undefined) warnings.push('fhirAuthorization.scope is missing');
  else if (typeof auth.scope !== 'string') warnings.push('fhirAuthorization.scope is not a string');
  if (auth.subject === undefined) warnings.push('fhirAuthorization.subject is missing');
  else if (typeof auth.subject !== 'string') warnings.push('fhirAuthorization.subject is not a string');
  const expires =
    typeof auth.expires_in === 'string' && /^\d{1,10}$/.test(auth.expires_in.trim())
      ? Number(auth.expires_in)
      : auth.expires_in;
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isFinite(expires) || expires < 0))
    warnings.push('fhirAuthorization.expires_in is not a number of seconds');
  if (typeof auth.token_type !== 'string' || auth.token_type.trim().toLowerCase() !== 'bearer') {
    return { ok: false, problem: 'fhirAuthorization.token_type is not Bearer', warnings };
  }
  if (typeof auth.access_token !== 'string' || auth.access_token.length === 0) {
    return { ok: false, problem: 'fhirAuthorization has no access_token', warnings };
  }
  if (auth.access_token.length > 16_384 || !B64TOKEN.test(auth.access_token)) {
    return { ok: false, problem: 'fhirAuthorization.access_token is not a bearer token', warnings };
  }
  return { ok: true, token: auth.access_token, warnings };
}
