/**
 * The SMART session on the ward: FHIR reads with the access token, and what happens when the FHIR
 * server answers 401. With a refresh token (the authorization server granted `online_access`) the
 * app gets a new access token once and repeats the read; otherwise, or when that fails too, the
 * session has ended: the SMART state is removed from sessionStorage and the user is told to reopen
 * the app from the EHR (a retry could not succeed). Tokens never leave sessionStorage and the
 * Authorization header; nothing here logs them.
 */
import type Client from 'fhirclient/lib/Client';
import type { FhirResource } from 'fhir/r4.js';
import { scopeAllowsSearch } from '../smart-config.js';
import { outcomeDetail } from './search-page.js';
import { UserFacingError } from './status.js';

/** The session cannot be continued: the token was refused and could not be renewed. */
export class SessionEnded extends UserFacingError {
  constructor(renewed: boolean) {
    super(
      renewed
        ? 'Your session with the EHR has ended: a renewed access token was refused too.'
        : 'Your session with the EHR has ended (the access token expired or was revoked).',
      'Close this window and open the app again from the patient’s chart in the EHR. Retrying here cannot work.',
    );
    this.name = 'SessionEnded';
  }
}

/** A FHIR read that failed with an HTTP status or on the network. */
export class FhirHttpError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'FhirHttpError';
  }
}

const grantedScope = (client: Client): string | undefined => {
  const scope: unknown = client.getState('tokenResponse.scope');
  return typeof scope === 'string' ? scope : undefined;
};

/** True when a refresh token can be used: one was given, with `online_access` or `offline_access`. */
export function canRefresh(client: Client): boolean {
  return (
    typeof client.getState('tokenResponse.refresh_token') === 'string' &&
    /\b(?:online|offline)_access\b/.test(grantedScope(client) ?? '')
  );
}

/**
 * True when the app may search `resourceType`: always for the demo (no authorization), otherwise
 * by the scopes the authorization server granted (which may be fewer than requested).
 */
export function maySearch(client: Client, resourceType: string, requested: string): boolean {
  if (!client.getState('tokenResponse.access_token')) return true;
  return scopeAllowsSearch(grantedScope(client), resourceType, requested);
}

/** Ends the session: the SMART state (tokens included) leaves sessionStorage. */
export function endSession(): void {
  sessionStorage.clear();
}

async function send(url: string, authorization: string | null, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, {
      headers: { accept: 'application/fhir+json', ...(authorization ? { authorization } : {}) },
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new FhirHttpError(undefined, 'network error or the server refused the request');
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

/**
 * GET one FHIR URL (absolute, on the session's server) as JSON. A 401 renews the access token once
 * when a refresh token allows it (one renewal shared by reads running in parallel), else ends the
 * session with {@link SessionEnded}.
 */
export async function fhirGet(client: Client, url: string, signal: AbortSignal): Promise<FhirResource> {
  if (canRefresh(client)) {
    // Renew ahead of time when the token is about to expire (fhirclient keeps expiresAt).
    await client.refreshIfNeeded({ signal }).catch(() => undefined);
  }
  const used = client.getAuthorizationHeader();
  let res = await send(url, used, signal);
  if (res.status === 401 && used) {
    let renewed = false;
    if (client.getAuthorizationHeader() === used) {
      if (!canRefresh(client)) {
        endSession();
        throw new SessionEnded(false);
      }
      try {
        await client.refresh({ signal });
        renewed = true;
      } catch {
        endSession();
        throw new SessionEnded(false);
      }
    }
    res = await send(url, client.getAuthorizationHeader(), signal);
    if (res.status === 401) {
      endSession();
      throw new SessionEnded(renewed);
    }
  }
  if (!res.ok) throw new FhirHttpError(res.status, await describeFailure(res));
  return (await res.json()) as FhirResource;
}
