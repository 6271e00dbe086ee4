/**
 * FhirGateway: the only code that talks FHIR over HTTP (via fhir-kit-client).
 *
 * It reads from the CDS client's `fhirServer` with the `fhirAuthorization` bearer token, follows
 * `next` links, and refuses anything that would leave the server's base URL (a template or a
 * `next` link pointing at another origin), redirects included. All requests of one CDS call share
 * one deadline, so an unreachable server costs at most the configured timeout.
 */
import type { Bundle, FhirResource, Resource } from 'fhir/r4.js';
import { Client } from 'fhir-kit-client';
import { isUnderBase, resolveUnderBase } from '../cds-hooks/prefetch.js';

export type FhirAccessFailure = 'refused' | 'timeout' | 'unreachable' | 'http-error' | 'invalid-response';

/** Why FHIR data could not be had; carries no token and no response body. */
export class FhirAccessError extends Error {
  constructor(
    readonly kind: FhirAccessFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FhirAccessError';
  }
}

export interface FhirServerPolicy {
  allowHttp: boolean;
  /** When non-empty, only these origins may be used as fhirServer. */
  allowedOrigins: string[];
}

/** Returns why `fhirServer` may not be used, or undefined when it may. */
export function checkFhirServer(fhirServer: string, policy: FhirServerPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(fhirServer);
  } catch {
    return 'fhirServer is not a URL';
  }
  if (url.username || url.password) return 'fhirServer must not carry credentials';
  if (url.search || url.hash) return 'fhirServer must be a base URL without query or fragment';
  if (url.protocol === 'http:' && !policy.allowHttp) return 'fhirServer must use https (set FHIR_ALLOW_HTTP=true only for local demos)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'fhirServer must be an http(s) URL';
  if (policy.allowedOrigins.length > 0 && !policy.allowedOrigins.includes(url.origin)) {
    return `fhirServer origin ${url.origin} is not in FHIR_ALLOWED_ORIGINS`;
  }
  return undefined;
}

export interface GatewayOptions {
  baseUrl: string;
  accessToken?: string | undefined;
  /** Aborts every request of this gateway (the per-call deadline). */
  signal: AbortSignal;
  maxPages: number;
}

export class FhirGateway {
  private readonly client: Client;
  private readonly base: URL;

  constructor(private readonly options: GatewayOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.client = new Client({
      baseUrl: options.baseUrl,
      ...(options.accessToken ? { customHeaders: { authorization: `Bearer ${options.accessToken}` } } : {}),
      // A redirect could lead outside fhirServer; treat it as an error instead of following it.
      requestOptions: { redirect: 'error' },
    });
  }

  /**
   * Reads a relative FHIR URL (a read or a search). Searches are followed through their `next`
   * links; the result is the list of resources, without OperationOutcome entries.
   */
  async fetchAll(relativeUrl: string): Promise<Resource[]> {
    const target = resolveUnderBase(this.options.baseUrl, relativeUrl);
    if (!target) throw new FhirAccessError('refused', `refused to fetch ${describe(relativeUrl)}: it resolves outside fhirServer`);
    const first = await this.get(target.href);
    if (first.resourceType !== 'Bundle') return [first];
    return this.collectPages(first);
  }

  /** Collects a Bundle's resources and those of the pages its `next` links lead to. */
  async collectPages(bundle: Bundle): Promise<Resource[]> {
    const resources: Resource[] = [];
    let page: Bundle | undefined = bundle;
    for (let pages = 1; page; pages++) {
      for (const entry of page.entry ?? []) {
        if (entry.resource && entry.search?.mode !== 'outcome' && entry.resource.resourceType !== 'OperationOutcome') {
          resources.push(entry.resource);
        }
      }
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      if (pages >= this.options.maxPages) {
        throw new FhirAccessError('refused', `search has more than ${this.options.maxPages} pages (FHIR_MAX_PAGES)`);
      }
      const nextUrl = parseUrl(next);
      if (!nextUrl || !isUnderBase(this.base, nextUrl)) {
        throw new FhirAccessError('refused', `refused to follow a next link to ${nextUrl?.origin ?? 'an invalid URL'}: it is outside fhirServer ${this.base.origin}`);
      }
      const fetched = await this.get(nextUrl.href);
      if (fetched.resourceType !== 'Bundle') throw new FhirAccessError('invalid-response', 'a next link did not return a Bundle');
      page = fetched;
    }
    return resources;
  }

  private async get(url: string): Promise<FhirResource> {
    if (this.options.signal.aborted) throw timeoutError(this.options.signal);
    try {
      const body = (await this.client.request(url, { options: { signal: this.options.signal } })) as unknown;
      if (!body || typeof body !== 'object' || typeof (body as Resource).resourceType !== 'string') {
        throw new FhirAccessError('invalid-response', `${describe(url)} did not return a FHIR resource`);
      }
      return body as FhirResource;
    } catch (error) {
      if (error instanceof FhirAccessError) throw error;
      if (this.options.signal.aborted) throw timeoutError(this.options.signal);
      const status = (error as { response?: { status?: number } }).response?.status;
      if (typeof status === 'number') {
        throw new FhirAccessError('http-error', `fhirServer answered ${status} to ${describe(url)}`, status);
      }
      throw new FhirAccessError('unreachable', `fhirServer could not be reached (${(error as Error).name})`);
    }
  }
}

function timeoutError(signal: AbortSignal): FhirAccessError {
  const reason = signal.reason as Error | undefined;
  return reason?.name === 'TimeoutError'
    ? new FhirAccessError('timeout', 'fhirServer did not answer within the deadline (FHIR_TIMEOUT_MS)')
    : new FhirAccessError('unreachable', 'the request was cancelled');
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** Names a request without its query string (which can hold patient identifiers). */
function describe(url: string): string {
  const parsed = parseUrl(url);
  if (!parsed) return url.split('?')[0] ?? url;
  const type = parsed.pathname.split('/').filter(Boolean).slice(-2).join('/');
  return `${type}${parsed.search ? '?…' : ''}`;
}
