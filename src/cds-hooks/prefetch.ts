/**
 * Prefetch templates (CDS Hooks 2.0 "Prefetch Template" and "Prefetch tokens").
 *
 * A template such as `Observation?patient={{context.patientId}}&code=751-8` becomes a relative
 * FHIR URL by replacing its tokens with values from the hook context. Every substituted value is
 * percent-encoded, so a hostile `patientId` cannot add query parameters or path segments.
 */

/** Tokens that identify the user (spec: "Prefetch tokens identifying the user"). */
const USER_TOKENS: Record<string, string> = {
  userPractitionerId: 'Practitioner',
  userPractitionerRoleId: 'PractitionerRole',
  userPatientId: 'Patient',
  userRelatedPersonId: 'RelatedPerson',
};

const TOKEN = /\{\{\s*([^{}\s]+)\s*\}\}/g;

export type TemplateResult = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Replaces the prefetch tokens of `template` with values from `context`.
 * Only root-level primitive context fields may be used, as the spec requires.
 */
export function resolvePrefetchTemplate(template: string, context: Record<string, unknown>): TemplateResult {
  let failure: string | undefined;
  const url = template.replace(TOKEN, (_match, token: string) => {
    const value = tokenValue(token, context);
    if (value === undefined) {
      failure ??= `prefetch token {{${token}}} has no value in this request's context`;
      return '';
    }
    return encodeURIComponent(value);
  });
  return failure ? { ok: false, reason: failure } : { ok: true, url };
}

function tokenValue(token: string, context: Record<string, unknown>): string | undefined {
  if (token.startsWith('context.')) {
    const field = token.slice('context.'.length);
    if (field.includes('.')) return undefined; // only first-level fields are tokens
    const value = context[field];
    if (typeof value === 'string' && value.length > 0) return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return undefined;
  }
  const type = USER_TOKENS[token];
  if (!type) return undefined;
  const userId = context['userId'];
  if (typeof userId !== 'string') return undefined;
  const [userType, id, ...rest] = userId.split('/');
  return userType === type && id && rest.length === 0 ? id : undefined;
}
