/**
 * What a CDS service is (data plus one handler) and how its prefetch keys become data.
 *
 * Discovery is generated from these objects; the handler receives the validated context and the
 * resources of every prefetch key, already taken from the request or fetched from `fhirServer`.
 */
import type { FhirResource, Resource } from 'fhir/r4.js';
import type { Logger } from 'pino';
import type { AssessmentIssue } from '../clinical/types.js';
import type { Config } from '../config.js';
import {
  checkFhirServer,
  FhirAccessError,
  aResource,
  FhirGateway,
  isSearch,
  ReadBudget,
  targetOf,
  type FhirRequestObserver,
} from '../fhir/gateway.js';
import { RequestLimiter } from '../fhir/limiter.js';
import { BusyError, type Budget } from '../shared/budget.js';
import { describeResource, RECORD_TYPES, type Screened, screenResources } from '../fhir/resource-schemas.js';
import { readSearchPage, searchBundleError, shortOfTotal } from '../fhir/search-bundle.js';
import { readFhirAuthorization } from './fhir-authorization.js';
import { badRequestFromZod, preconditionFailed } from './outcomes.js';
import { resolvePrefetchTemplate } from './prefetch.js';
import type {
  CdsRequest,
  CdsResponse,
  HookName,
  OrderSelectContext,
  OrderSignContext,
  PatientViewContext,
} from './schemas.js';

export type ContextFor<H extends HookName> = H extends 'patient-view'
  ? PatientViewContext
  : H extends 'order-select'
    ? OrderSelectContext
    : OrderSignContext;

export type PrefetchSource = 'prefetch' | 'fetched' | 'null' | 'absent';

export interface PrefetchedKey {
  /** Resources that have the shape the engine reads (screened at the edge). */
  resources: FhirResource[];
  /** Resources left out by the screen, and data that could not be read. */
  issues: AssessmentIssue[];
  /** prefetch: sent by the client; fetched: read from fhirServer; null: client said "no data"; absent: optional and unobtainable. */
  source: PrefetchSource;
}

/** Reads single resources from fhirServer during a call (e.g. the Medication a draft order references). */
export interface FhirReader {
  /**
   * The resource, undefined when it does not exist; throws FhirAccessError when it cannot be read.
   * `timeoutMs` bounds this read below the call's deadline, so that a server hanging on it leaves
   * time for the reads that follow (the patient's record). One read per reference and call: a
   * later caller shares the first one, with the first caller's `timeoutMs`.
   */
  read(reference: string, options?: { timeoutMs?: number }): Promise<Resource | undefined>;
  /**
   * The union of the resources of several searches (relative URLs), read concurrently within the
   * call's request cap, deadline and byte budget, and within `timeoutMs` when given; throws
   * FhirAccessError or PrefetchError (no usable fhirServer).
   */
  search(relativeUrls: readonly string[], options?: { timeoutMs?: number }): Promise<unknown[]>;
  /** How long the whole call may read from fhirServer (FHIR_TIMEOUT_MS). */
  readonly deadlineMs: number;
  /** The call's logger (it carries the request id). */
  readonly log: Logger;
}

export interface ServiceRequest<H extends HookName> {
  request: CdsRequest;
  context: ContextFor<H>;
  data: Record<string, PrefetchedKey>;
  fhir: FhirReader;
}

export interface CdsServiceDefinition<H extends HookName = HookName, D = unknown> {
  id: string;
  hook: H;
  title: string;
  description: string;
  /** Prefetch templates, published in discovery. */
  prefetch: Record<string, string>;
  /**
   * Keys the service reads but does not publish (the EHR is not asked to run them for every call):
   * taken from the request's prefetch when the client sends them anyway, else read from
   * fhirServer, and only for calls that pass {@link relevant}.
   */
  reads?: Readonly<Record<string, string>>;
  /**
   * When the service reads a key itself, these templates together replace the key's template:
   * they run concurrently (e.g. one Observation search per group of lab codes, so no page waits
   * for another) and their union, each resource once, is the key's data.
   */
  fetchAs?: Readonly<Record<string, readonly string[]>>;
  /** Keys the service cannot work without: when neither prefetched nor fetchable, answer 412. */
  requiredPrefetch: readonly string[];
  /**
   * Search parameter bounded to the last LOOKBACK_DAYS when the service fetches the key itself
   * (prefetch tokens cannot express relative dates, so the published template is unbounded).
   */
  dateBoundedPrefetch?: Readonly<Record<string, string>>;
  usageRequirements?: string;
  /**
   * False when this call cannot produce a card (order-sign for an order we never advise on): the
   * service then answers no cards at once, without reading any patient data.
   */
  relevant?(context: ContextFor<H>, deps: D, fhir: FhirReader): boolean | Promise<boolean>;
  handler(input: ServiceRequest<H>, deps: D): Promise<CdsResponse>;
}

export interface LoadPrefetchOptions {
  config: Pick<Config, 'fhir'> & Partial<Pick<Config, 'bodyMaxJsonValues'>>;
  now: Date;
  /** Aborted by the per-call deadline or when the client goes away. */
  signal: AbortSignal;
  log: Logger;
  /** MAX_JSON_VALUES_IN_FLIGHT: room for fhirServer's answers, shared by all calls; none: not bounded. */
  valueBudget?: Budget | undefined;
  /** The JSON values the call's body holds room for: its answers may hold BODY_MAX_JSON_VALUES less these. */
  bodyValues?: number | undefined;
  /** Told of every FHIR request of the call (metrics). */
  fhirObserver?: FhirRequestObserver | undefined;
}

/**
 * The CDS client's FHIR server for one call, built on first use: the gateway (with the call's
 * deadline and byte budget) or why there is none.
 */
export class CallFhirAccess implements FhirReader {
  private built: { gateway: FhirGateway } | { problem: string } | undefined;
  private readonly budget: ReadBudget;
  /** Shared by every request of this call (FHIR_MAX_CONCURRENT_REQUESTS). */
  readonly limiter: RequestLimiter;
  private readonly reads = new Map<string, Promise<Resource | undefined>>();

  constructor(
    private readonly request: CdsRequest,
    private readonly options: LoadPrefetchOptions,
  ) {
    this.budget = new ReadBudget(
      options.config.fhir.maxCallBytes,
      options.config.bodyMaxJsonValues,
      options.valueBudget,
      options.bodyValues,
    );
    this.limiter = new RequestLimiter(options.config.fhir.maxConcurrentRequests);
  }

  /** Gives back the room the call's answers held in the process's budget (its response closed). */
  release(): void {
    this.budget.release();
  }

  gateway(): { gateway: FhirGateway } | { problem: string } {
    this.built ??= this.build();
    return this.built;
  }

  get log(): Logger {
    return this.options.log;
  }

  get deadlineMs(): number {
    return this.options.config.fhir.timeoutMs;
  }

  read(reference: string, options: { timeoutMs?: number } = {}): Promise<Resource | undefined> {
    let pending = this.reads.get(reference);
    if (!pending) {
      const access = this.gateway();
      pending =
        'problem' in access
          ? Promise.reject(new PrefetchError(access.problem))
          : access.gateway.read(reference, options);
      this.reads.set(reference, pending);
    }
    return pending;
  }

  search(relativeUrls: readonly string[], options: { timeoutMs?: number } = {}): Promise<unknown[]> {
    const access = this.gateway();
    return 'problem' in access
      ? Promise.reject(new PrefetchError(access.problem))
      : access.gateway.fetchUnion(relativeUrls, options);
  }

  private build(): { gateway: FhirGateway } | { problem: string } {
    const { request, options } = this;
    if (!request.fhirServer) return { problem: 'no fhirServer was given' };
    const serverProblem = checkFhirServer(request.fhirServer, options.config.fhir);
    if (serverProblem) return { problem: serverProblem };
    const auth = readFhirAuthorization(request.fhirAuthorization);
    if (auth && auth.warnings.length > 0)
      options.log.warn({ warnings: auth.warnings }, 'fhirAuthorization is incomplete; used as far as it goes');
    if (auth && !auth.ok) return { problem: auth.problem };
    return {
      gateway: new FhirGateway({
        baseUrl: request.fhirServer,
        accessToken: auth?.token,
        signal: options.signal,
        maxPages: options.config.fhir.maxPages,
        maxResponseBytes: options.config.fhir.maxResponseBytes,
        budget: this.budget,
        limiter: this.limiter,
        observer: options.fhirObserver,
      }),
    };
  }
}

type KeyPlan = { key: string; provided: unknown[]; nextPages: boolean } | { key: string; fetch: true; why?: string };

/**
 * Resolves every prefetch key of `service` for this request: the client's prefetch when given
 * (`null` means "no data"), otherwise a read from `fhirServer`. A prefetch whose search failed (an
 * OperationOutcome) counts as not given. Throws a 412 (preconditionFailed) naming the required keys that
 * could not be obtained, and why.
 */
export async function loadPrefetch(
  service: CdsServiceDefinition<HookName, unknown>,
  request: CdsRequest,
  options: LoadPrefetchOptions,
  fhir: CallFhirAccess = new CallFhirAccess(request, options),
): Promise<Record<string, PrefetchedKey>> {
  const data: Record<string, PrefetchedKey> = {};
  const plans: KeyPlan[] = [];
  for (const key of keysOf(service)) {
    const value = request.prefetch?.[key];
    if (!Object.hasOwn(service.prefetch, key)) checkUnpublishedBundle(key, value);
    if (value === null) {
      data[key] = { resources: [], issues: [], source: 'null' };
      continue;
    }
    const provided = providedResources(value, service.prefetch[key] ?? service.reads?.[key] ?? '');
    if (provided.ok) plans.push({ key, provided: provided.resources, nextPages: provided.hasNext });
    else {
      if (provided.why)
        options.log.warn({ key, reason: provided.why }, 'prefetch key not usable; reading it from fhirServer');
      plans.push({ key, fetch: true, ...(provided.why ? { why: provided.why } : {}) });
    }
  }

  const failures: string[] = [];
  const required = new Set(service.requiredPrefetch);
  await Promise.all(
    plans.map(async (plan) => {
      try {
        data[plan.key] = await resolveKey(service, plan, request, fhir, options);
      } catch (error) {
        if (error instanceof BusyError) throw error; // the whole call waits for another try (503)
        const known = error instanceof FhirAccessError || error instanceof PrefetchError;
        const reason = known ? error.message : 'unexpected error';
        if (!known) options.log.error({ err: error, key: plan.key }, 'prefetch failed');
        if (required.has(plan.key)) failures.push(`${plan.key}: ${reason}`);
        else {
          options.log.warn({ key: plan.key, reason }, 'optional prefetch key unavailable');
          data[plan.key] = {
            resources: [],
            issues: [
              {
                severity: 'warning',
                code: 'data-unavailable',
                message: `${plan.key} could not be read (${reason}); assessed without it`,
              },
            ],
            source: 'absent',
          };
        }
      }
    }),
  );
  if (failures.length > 0) {
    throw preconditionFailed(
      `Required FHIR data could not be obtained from prefetch or fhirServer: ${failures.sort().join('; ')}`,
      failures.map((f) => `prefetch.${f.split(':')[0]}`),
    );
  }
  return data;
}

export class PrefetchError extends Error {}

async function resolveKey(
  service: CdsServiceDefinition<HookName, unknown>,
  plan: KeyPlan,
  request: CdsRequest,
  fhir: CallFhirAccess,
  options: LoadPrefetchOptions,
): Promise<PrefetchedKey> {
  const template = service.prefetch[plan.key] ?? service.reads?.[plan.key] ?? '';
  const screen = (resources: readonly unknown[]): Screened => withForeignTypes(template, screenResources(resources));
  if ('provided' in plan && !plan.nextPages) {
    const screened = screen(plan.provided);
    const short = prefetchShortOfTotal(template, request.prefetch?.[plan.key], plan.provided.length);
    return { ...screened, issues: short ? [...screened.issues, short] : screened.issues, source: 'prefetch' };
  }
  const access = fhir.gateway();
  if ('problem' in access) {
    const why =
      'why' in plan && plan.why
        ? plan.why
        : 'provided' in plan
          ? 'the prefetch Bundle has more pages (a next link) that only fhirServer could give'
          : 'not prefetched';
    throw new PrefetchError(`${why} and ${access.problem}`);
  }
  const { gateway } = access;
  if ('provided' in plan) {
    // The spec forbids next links in prefetch; if a client sends one, read the remaining pages.
    const bundle = request.prefetch?.[plan.key] as Parameters<FhirGateway['collectPages']>[0];
    return { ...screen(await gateway.collectPages(bundle)), source: 'prefetch' };
  }
  const templates = service.fetchAs?.[plan.key] ?? [service.prefetch[plan.key] ?? service.reads?.[plan.key] ?? ''];
  const urls = templates.map((template) => ownSearchUrl(service, plan.key, template, request, options));
  const short: AssessmentIssue[] = [];
  const screened = screen(await gateway.fetchUnion(urls, { onShort: (issue) => short.push(issue) }));
  return {
    ...screened,
    issues: short.length > 0 ? [...screened.issues, ...short] : screened.issues,
    source: 'fetched',
  };
}

/**
 * A prefetch Bundle whose `total` counts more results than it holds, with no next link to the rest:
 * a truncated search the client sent as if complete. Assessed on what it holds, and said.
 */
function prefetchShortOfTotal(template: string, value: unknown, held: number): AssessmentIssue | undefined {
  if (!isSearch(template)) return undefined; // a read's value holds one resource, whatever its Bundle says
  const total = (value as { total?: unknown } | null)?.total;
  return shortOfTotal(targetOf(template)?.type ?? 'prefetch', total, held);
}

/**
 * A search's resources of a type the service does not read and the search does not return (a
 * typo such as "Observatio", G-CSF doses sent as MedicationStatement in the MedicationAdministration
 * search) are left out with a word, not in silence: the patient's cards say what was not read.
 * Types the engine reads are kept whatever key they came in (it reads them all alike); MedicationRequest
 * and ServiceRequest, read only as draft orders, are not among them.
 */
function withForeignTypes(template: string, screened: Screened): Screened {
  const searched = isSearch(template) ? targetOf(template)?.type : undefined;
  if (searched === undefined) return screened;
  // One pass: a Bundle may hold tens of thousands of entries.
  const kept: FhirResource[] = [];
  const foreign: FhirResource[] = [];
  for (const r of screened.resources)
    (r.resourceType === searched || RECORD_TYPES.has(r.resourceType) ? kept : foreign).push(r);
  if (foreign.length === 0) return screened;
  return {
    resources: kept,
    issues: [
      ...screened.issues,
      ...foreign.map((r): AssessmentIssue => ({
        severity: 'warning',
        code: 'resource-invalid',
        message: `${aResource(r.resourceType)} among the ${searched} results: a record type this service does not read; left out`,
        resource: describeResource(r),
      })),
    ],
  };
}

/**
 * A Bundle sent for an unpublished key is held to what the router holds published keys to: an
 * `entry` that is not a list of objects is a malformed request (400), not a failed search.
 */
function checkUnpublishedBundle(key: string, value: unknown): void {
  if ((value as { resourceType?: unknown } | null | undefined)?.resourceType !== 'Bundle') return;
  const error = searchBundleError(value);
  if (error) throw badRequestFromZod(error, `prefetch.${key}`);
}

/** Every key the service reads: the published prefetch and the unpublished reads. */
function keysOf(service: CdsServiceDefinition<HookName, unknown>): string[] {
  return [...new Set([...Object.keys(service.prefetch), ...Object.keys(service.reads ?? {})])];
}

/** A template resolved for a search the service runs itself: date-bounded and paged as configured. */
function ownSearchUrl(
  service: CdsServiceDefinition<HookName, unknown>,
  key: string,
  template: string,
  request: CdsRequest,
  options: LoadPrefetchOptions,
): string {
  const resolved = resolvePrefetchTemplate(template, request.context);
  if (!resolved.ok) throw new PrefetchError(resolved.reason);
  let url = resolved.url;
  const dateParam = service.dateBoundedPrefetch?.[key];
  if (dateParam) {
    const since = new Date(options.now.getTime() - options.config.fhir.lookbackDays * 86_400_000)
      .toISOString()
      .slice(0, 10);
    url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(dateParam)}=ge${since}`;
  }
  // Page size for our own searches only: in a published template, a client could read _count as
  // "send one page" and truncate its prefetch.
  if (url.includes('?') && !/[?&]_count=/.test(url)) url += `&_count=${options.config.fhir.pageSize}`;
  return url;
}

type Provided = { ok: true; resources: unknown[]; hasNext: boolean } | { ok: false; why?: string };

/**
 * The resources of a prefetch value, or why it must be fetched instead: missing, not a resource,
 * an OperationOutcome (the client's search failed), a Bundle reporting a failed search or that is
 * no valid search result (an entry without a resource: readSearchPage), or a
 * resource that is not what `template` reads (a search's value must be a Bundle; a read's, the
 * resource type it reads, or a Bundle of only that type, as a client that runs reads as searches
 * sends).
 */
function providedResources(value: unknown, template: string): Provided {
  if (value === undefined) return { ok: false };
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, why: 'the prefetch value is not a FHIR resource' };
  const resource = value as { resourceType?: unknown; entry?: unknown; link?: unknown };
  if (typeof resource.resourceType !== 'string') return { ok: false, why: 'the prefetch value is not a FHIR resource' };
  // The spec: a client that failed to prefetch omits the key; some send an OperationOutcome instead.
  if (resource.resourceType === 'OperationOutcome')
    return { ok: false, why: "the client's prefetch search failed (OperationOutcome)" };
  if (resource.resourceType !== 'Bundle') {
    const type = aResource(resource.resourceType);
    if (isSearch(template)) return { ok: false, why: `the prefetch value for this search is ${type}, not a Bundle` };
    const reads = targetOf(template)?.type;
    if (resource.resourceType !== reads)
      return { ok: false, why: `the prefetch value is ${type}, not the ${reads ?? 'resource'} this key reads` };
    return { ok: true, resources: [resource], hasNext: false };
  }
  // Through the router a Bundle whose entry is not a list of objects is a 400 (checkPrefetchBundles); kept for direct callers.
  if (resource.entry !== undefined && !Array.isArray(resource.entry))
    return { ok: false, why: 'the prefetch Bundle has no entry list' };
  const page = readSearchPage(resource);
  // An error outcome means the search did not complete: a failed search is not an empty record.
  if (!page.ok && page.failed)
    return { ok: false, why: "the client's prefetch search reported an error (OperationOutcome in the Bundle)" };
  if (!page.ok) return { ok: false, why: `the prefetch value is a Bundle whose ${page.problem}` };
  const { resources } = page;
  const reads = isSearch(template) ? undefined : targetOf(template)?.type;
  const typeOf = (r: unknown): unknown => (r as { resourceType?: unknown }).resourceType;
  const other = reads === undefined ? undefined : resources.find((r) => typeOf(r) !== reads);
  if (other !== undefined)
    return {
      ok: false,
      why: `the prefetch value is a Bundle holding ${aResource(typeOf(other))}, not only the ${reads ?? 'resource'} this key reads`,
    };
  return { ok: true, resources, hasNext: page.next !== undefined };
}
