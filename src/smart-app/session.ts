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
import { getFhirJson } from './fhir-request.js';
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

/**
 * GET one FHIR URL (absolute, on the session's server) as JSON. A 401 renews the access token once
 * when a refresh token allows it (one renewal shared by reads running in parallel), else ends the
 * session with {@link SessionEnded}. Each request is bounded in time (fhir-request.ts).
 */
export async function fhirGet(client: Client, url: string, signal: AbortSignal): Promise<FhirResource> {
  if (canRefresh(client)) {
    // Renew ahead of time when the token is about to expire (fhirclient keeps expiresAt).
    await client.refreshIfNeeded({ signal }).catch(() => undefined);
  }
  const used = client.getAuthorizationHeader();
  let answer = await getFhirJson(url, used, signal);
  if ('unauthorized' in answer) {
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
    answer = await getFhirJson(url, client.getAuthorizationHeader(), signal);
    if ('unauthorized' in answer) {
      endSession();
      throw new SessionEnded(renewed);
    }
  }
  return answer.body as FhirResource;
}
