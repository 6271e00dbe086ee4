/**
 * One error type, one status map (Medplum `core/src/outcomes.ts`). Everything the service rejects
 * is thrown as @medplum/core's {@link OperationOutcomeError}; its HTTP status is derived from the
 * OperationOutcome by {@link getStatus}, and the one error middleware (src/http/middleware.ts)
 * answers with both. The builders below make the outcomes: each issue says what is wrong in
 * `diagnostics` and, when a field is at fault, where in `expression`.
 */
import {
  getStatus as medplumGetStatus,
  OperationOutcomeError,
  forbidden as FORBIDDEN,
  notFound as NOT_FOUND,
  preconditionFailed as PRECONDITION_FAILED,
  unauthorized as UNAUTHORIZED,
} from '@medplum/core';
import type { OperationOutcomeIssue as R4OperationOutcomeIssue } from 'fhir/r4.js';
import type { ZodError } from 'zod';

export { OperationOutcomeError };

/** The OperationOutcome type of @medplum/core (structurally FHIR R4's). */
export type OperationOutcome = OperationOutcomeError['outcome'];
export type OperationOutcomeIssue = OperationOutcome['issue'][number];
export type IssueType = OperationOutcomeIssue['code'];

/**
 * Statuses @medplum/core's getStatus has no entry for: it keys its map on `OperationOutcome.id`
 * (`not-found` → 404, `precondition-failed` → 412, …) and answers 400 for any other id-less error
 * outcome. These three are told by their issue code, the FHIR IssueType that names them.
 */
const STATUS_BY_ISSUE_CODE: Partial<Record<IssueType, number>> = {
  'too-long': 413, // Payload Too Large: the request body exceeds BODY_LIMIT
  'not-supported': 415, // Unsupported Media Type: a body that is not JSON
  transient: 503, // Service Unavailable: storage down, "send it again later"
};

/**
 * `OperationOutcome.id` of a method the resource does not support: 405, which neither Medplum's ids
 * nor a FHIR IssueType names (its issue code, `not-supported`, alone would read as 415).
 */
export const METHOD_NOT_ALLOWED_ID = 'method-not-allowed';

/**
 * The HTTP status of an error outcome: @medplum/core's getStatus, plus 405 (METHOD_NOT_ALLOWED_ID)
 * and 413, 415 and 503 (see STATUS_BY_ISSUE_CODE) for outcomes without a Medplum id.
 */
export function getStatus(outcome: OperationOutcome): number {
  if (outcome.id === METHOD_NOT_ALLOWED_ID) return 405;
  const code = outcome.issue?.[0]?.code;
  const extra = outcome.id === undefined && code !== undefined ? STATUS_BY_ISSUE_CODE[code] : undefined;
  return extra ?? medplumGetStatus(outcome);
}

/**
 * What the builders below return: @medplum/core's OperationOutcomeError, with `status` read from
 * the outcome (getStatus), never stored beside it. The middleware only needs OperationOutcomeError;
 * `status` is for code that answers by itself (the demo FHIR server).
 */
export class OutcomeError extends OperationOutcomeError {
  constructor(outcome: OperationOutcome) {
    super(outcome);
    this.name = 'OperationOutcomeError';
  }

  get status(): number {
    return getStatus(this.outcome);
  }
}

/**
 * Extension on an error OperationOutcome carrying the request id (also the X-Request-Id header and
 * the `reqId` of every log line), so a report quoting the outcome leads to the logs. Not the
 * OperationOutcome's `id`: Medplum's getStatus reads that.
 */
export const REQUEST_ID_EXTENSION = 'https://cart-hematotox-cds.example.org/fhir/StructureDefinition/request-id';

/** `outcome` with the request id extension (replacing any earlier one). */
export function withRequestId(outcome: OperationOutcome, requestId: string): OperationOutcome {
  const others = (outcome.extension ?? []).filter((e) => e.url !== REQUEST_ID_EXTENSION);
  return { ...outcome, extension: [...others, { url: REQUEST_ID_EXTENSION, valueString: requestId }] };
}

/** Builds an OperationOutcome of `issues` (FHIR R4 issue objects). */
export function operationOutcome(issues: (OperationOutcomeIssue | R4OperationOutcomeIssue)[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues as OperationOutcomeIssue[] };
}

function issue(code: IssueType, diagnostics: string, expression?: string[]): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, ...(expression && expression.length > 0 ? { expression } : {}) };
}

/** One of Medplum's ready outcomes (its `id` gives the status), with our diagnostics on its issue. */
function described(ready: OperationOutcome, diagnostics: string, expression?: string[]): OperationOutcome {
  const first = ready.issue[0] as OperationOutcomeIssue;
  return {
    ...ready,
    issue: [{ ...first, diagnostics, ...(expression && expression.length > 0 ? { expression } : {}) }],
  };
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

/** The most zod problems a 400 lists; the others are counted in one more issue. */
const ZOD_ISSUES_LISTED = 20;

/** 400 with one issue per zod problem (the first {@link ZOD_ISSUES_LISTED}), each naming the field it concerns. */
export function badRequestFromZod(error: ZodError, root?: string): OutcomeError {
  const more = error.issues.length - ZOD_ISSUES_LISTED;
  const issues = error.issues
    .slice(0, ZOD_ISSUES_LISTED)
    .map((i) =>
      issue(
        i.code === 'invalid_type' && i.message.includes('undefined') ? 'required' : 'invalid',
        `${pathExpression(i.path, root)}: ${i.message}`,
        [pathExpression(i.path, root)],
      ),
    );
  if (more > 0) issues.push(issue('invalid', `and ${more.toLocaleString('en')} more problems not listed`));
  return new OutcomeError(operationOutcome(issues));
}

/** 400 (issue code `invalid`). */
export function badRequest(diagnostics: string, expression?: string): OutcomeError {
  return new OutcomeError(operationOutcome([issue('invalid', diagnostics, expression ? [expression] : undefined)]));
}

/** 404 (Medplum's `notFound`). */
export function notFound(diagnostics: string): OutcomeError {
  return new OutcomeError(described(NOT_FOUND, diagnostics));
}

/** 405: `method` is not one of `allowed` on this path (the answer's Allow header lists them). */
export function methodNotAllowed(method: string, path: string, allowed: readonly string[]): OutcomeError {
  return new OutcomeError({
    resourceType: 'OperationOutcome',
    id: METHOD_NOT_ALLOWED_ID,
    issue: [issue('not-supported', `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`)],
  });
}

/** 412, CDS Hooks: the service cannot get the FHIR data it needs (no prefetch and no usable fhirServer). */
export function preconditionFailed(diagnostics: string, expression?: string[]): OutcomeError {
  return new OutcomeError(described(PRECONDITION_FAILED, diagnostics, expression));
}

/** 413 (issue code `too-long`). */
export function payloadTooLarge(limit: string): OutcomeError {
  return new OutcomeError(
    operationOutcome([issue('too-long', `Request body exceeds the configured limit of ${limit}`)]),
  );
}

/** 413 (issue code `too-long`): a body within BODY_LIMIT whose JSON holds more values than BODY_MAX_JSON_VALUES. */
export function tooManyJsonValues(max: number): OutcomeError {
  return new OutcomeError(
    operationOutcome([
      issue(
        'too-long',
        `Request body holds more than ${max.toLocaleString('en')} JSON values (BODY_MAX_JSON_VALUES); it was not read`,
      ),
    ]),
  );
}

/** 415 (issue code `not-supported`). */
export function unsupportedMediaType(contentType: string | undefined): OutcomeError {
  return new OutcomeError(
    operationOutcome([
      issue(
        'not-supported',
        `Content-Type must be application/json or application/fhir+json, got ${contentType ?? 'none'}`,
      ),
    ]),
  );
}

/** Content codings body-parser inflates (node_modules/body-parser/lib/read.js; zstd not on Node 20). */
const CONTENT_ENCODINGS = 'identity, gzip, deflate or br';

/** A client's header value quoted in an outcome: at most 100 characters. */
const quoted = (value: string): string => JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);

/** 415 (issue code `not-supported`): a Content-Encoding the service cannot inflate. */
export function unsupportedContentEncoding(encoding: string): OutcomeError {
  return new OutcomeError(
    operationOutcome([
      issue('not-supported', `Content-Encoding ${quoted(encoding)} is not supported; send ${CONTENT_ENCODINGS}`),
    ]),
  );
}

/** 415 (issue code `not-supported`): a JSON body in a charset other than UTF-8 or UTF-16 (RFC 8259 §8.1). */
export function unsupportedCharset(charset: string): OutcomeError {
  return new OutcomeError(
    operationOutcome([
      issue('not-supported', `Charset ${quoted(charset)} is not supported; send JSON as UTF-8 (or UTF-16)`),
    ]),
  );
}

/**
 * 401 (Medplum's `unauthorized`). Sent bare, without the outcome, so a caller probing the auth
 * layer learns nothing about why; `reason` is for the log only.
 */
export function unauthorized(reason: string): OutcomeError {
  return new OutcomeError(described(UNAUTHORIZED, reason));
}

/** 403 (Medplum's `forbidden`). */
export function forbidden(diagnostics: string): OutcomeError {
  return new OutcomeError(described(FORBIDDEN, diagnostics));
}

/** 503 (issue code `transient`): try again later. */
export function serviceUnavailable(diagnostics: string): OutcomeError {
  return new OutcomeError(operationOutcome([issue('transient', diagnostics)]));
}

interface BodyParserError {
  type?: string;
  status?: number;
  /** `encoding.unsupported`: the Content-Encoding refused (lower-cased). */
  encoding?: string;
  /** `charset.unsupported`: the charset refused. */
  charset?: string;
}

/**
 * The outcome of a failure to read a request: body-parser's errors (413, 400 not JSON, 415 naming
 * the encoding or charset) and any other client error express raised (a path that does not
 * decode…: 400 "Malformed request", never the error's own message); undefined for anything else.
 */
export function requestReadError(
  err: unknown,
  bodyLimit: string,
  contentType: string | undefined,
): OperationOutcomeError | undefined {
  const parserError = err as BodyParserError | undefined;
  switch (parserError?.type) {
    case 'entity.too.large':
      return payloadTooLarge(bodyLimit);
    case 'entity.parse.failed':
      return badRequest('Request body is not valid JSON', '(body)');
    case 'encoding.unsupported':
      return unsupportedContentEncoding(parserError.encoding ?? '');
    case 'charset.unsupported':
      return parserError.charset ? unsupportedCharset(parserError.charset) : unsupportedMediaType(contentType);
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500)
    return badRequest('Malformed request');
  return undefined;
}

/** 500 (issue code `exception`); never says more than this: details go to the log. */
export function internalError(): OutcomeError {
  return new OutcomeError(operationOutcome([issue('exception', 'Internal error; the incident was logged')]));
}
