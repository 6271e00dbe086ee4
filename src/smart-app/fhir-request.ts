/**
 * One GET of the app's FHIR reads, bounded in time: the request and its answer's body within
 * FHIR_REQUEST_TIMEOUT_MS, then a named failure the clinician can retry, instead of "Reading the
 * record…" for ever when an EHR never answers. No DOM, no SMART state (session.ts adds the token and
 * what a 401 means), so it runs under Node's fetch in tests too.
 */
import { outcomeDetail } from './search-page.js';

/**
 * Longest wait for one FHIR request, the answer's body included. 30 s: a page of a slow EHR takes
 * seconds, a clinician left longer without a word gives up or trusts a screen that will never fill;
 * past it Retry is the better offer. (The app config has no timeout: FHIR_TIMEOUT_MS is the CDS
 * call's deadline, sized for cards that must come back within the EHR's hook.)
 */
export const FHIR_REQUEST_TIMEOUT_MS = 30_000;

/** A FHIR read that failed with an HTTP status, on the network, or for want of an answer in time. */
export class FhirHttpError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'FhirHttpError';
  }
}

/** What an error answer says, for the user: the status text and the first OperationOutcome diagnostic. */
async function describeFailure(res: Response): Promise<string> {
  let detail = '';
  try {
    detail = outcomeDetail(await res.json());
  } catch {
    // not JSON: the status is all there is
  }
  return [res.statusText, detail].filter(Boolean).join(': ') || 'failed';
}

async function send(url: string, authorization: string | null, signal: AbortSignal): Promise<Response> {
  // A variable, not a literal: Node's RequestInit (the unit tests' fetch) has no `cache`.
  const init = {
    headers: { accept: 'application/fhir+json', ...(authorization ? { authorization } : {}) },
    signal,
    credentials: 'same-origin' as const,
    cache: 'no-store' as const,
  };
  try {
    return await fetch(url, init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new FhirHttpError(undefined, 'network error or the server refused the request');
  }
}

/**
 * Runs `work` with a signal that `signal` aborts, and that aborts after `ms`: then it fails as a
 * FhirHttpError saying so (a cancel by `signal` stays an AbortError, and is not retried).
 */
async function withinTime<T>(signal: AbortSignal, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const own = new AbortController();
  const cancel = (): void => own.abort(signal.reason);
  if (signal.aborted) cancel();
  signal.addEventListener('abort', cancel, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    own.abort();
  }, ms);
  try {
    return await work(own.signal);
  } catch (error) {
    if (timedOut && !signal.aborted) throw new FhirHttpError(undefined, `no answer within ${ms / 1000} s`);
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', cancel);
  }
}

/**
 * GET `url` as JSON within `timeoutMs`: the body, or `unauthorized` for a 401 to a request with an
 * Authorization header (the caller may renew the token); any other failure is a FhirHttpError.
 */
export function getFhirJson(
  url: string,
  authorization: string | null,
  signal: AbortSignal,
  timeoutMs = FHIR_REQUEST_TIMEOUT_MS,
): Promise<{ unauthorized: true } | { body: unknown }> {
  return withinTime(signal, timeoutMs, async (bounded) => {
    const res = await send(url, authorization, bounded);
    if (res.status === 401 && authorization) return { unauthorized: true as const };
    if (!res.ok) throw new FhirHttpError(res.status, await describeFailure(res));
    return { body: (await res.json()) as unknown };
  });
}
