/**
 * One error type, one status map. Everything the service rejects becomes an {@link HttpError}
 * carrying a FHIR OperationOutcome; the error middleware turns it into the response.
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import type { ZodError } from 'zod';

export type IssueType = OperationOutcomeIssue['code'];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome | undefined,
    message?: string,
  ) {
    super(message ?? outcome?.issue[0]?.diagnostics ?? `HTTP ${status}`);
    this.name = 'HttpError';
  }
}

export function operationOutcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

function issue(code: IssueType, diagnostics: string, expression?: string[], severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcomeIssue {
  return { severity, code, diagnostics, ...(expression && expression.length > 0 ? { expression } : {}) };
}

/** Renders a zod path (`['context', 'draftOrders', 'entry', 0]`) as a FHIRPath-like expression. */
export function pathExpression(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(body)';
}

/** 400 with one issue per zod problem, each naming the field it concerns. */
export function badRequestFromZod(error: ZodError, root?: string): HttpError {
  const issues = error.issues.map((i) => issue(i.code === 'invalid_type' && i.message.includes('undefined') ? 'required' : 'invalid', `${pathExpression(i.path, root)}: ${i.message}`, [pathExpression(i.path, root)]));
  return new HttpError(400, operationOutcome(issues));
}

export function badRequest(diagnostics: string, expression?: string): HttpError {
  return new HttpError(400, operationOutcome([issue('invalid', diagnostics, expression ? [expression] : undefined)]));
}

export function notFound(diagnostics: string): HttpError {
  return new HttpError(404, operationOutcome([issue('not-found', diagnostics)]));
}

/** CDS Hooks: the service cannot get the FHIR data it needs (no prefetch and no usable fhirServer). */
export function preconditionFailed(diagnostics: string, expression?: string[]): HttpError {
  return new HttpError(412, operationOutcome([issue('processing', diagnostics, expression)]));
}

export function payloadTooLarge(limit: string): HttpError {
  return new HttpError(413, operationOutcome([issue('too-long', `Request body exceeds the configured limit of ${limit}`)]));
}

export function unsupportedMediaType(contentType: string | undefined): HttpError {
  return new HttpError(
    415,
    operationOutcome([issue('not-supported', `Content-Type must be application/json or application/fhir+json, got ${contentType ?? 'none'}`)]),
  );
}

/** Bare 401: no body, so a caller probing the auth layer learns nothing about why. */
export function unauthorized(reason: string): HttpError {
  return new HttpError(401, undefined, reason);
}

export function forbidden(diagnostics: string): HttpError {
  return new HttpError(403, operationOutcome([issue('forbidden', diagnostics)]));
}

export function serviceUnavailable(diagnostics: string): HttpError {
  return new HttpError(503, operationOutcome([issue('transient', diagnostics)]));
}

export function internalError(): HttpError {
  return new HttpError(500, operationOutcome([issue('exception', 'Internal error; the incident was logged')]));
}
