/**
 * What a CDS service is (data plus one handler) and how its prefetch keys become data.
 *
 * Discovery is generated from these objects; the handler receives the validated context and the
 * resources of every prefetch key, already taken from the request or fetched from `fhirServer`.
 */
import type { Resource } from 'fhir/r4.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { checkFhirServer, FhirAccessError, FhirGateway } from '../fhir/gateway.js';
import { preconditionFailed } from './outcomes.js';
import { resolvePrefetchTemplate } from './prefetch.js';
import type { CdsRequest, CdsResponse, HookName, OrderSelectContext, OrderSignContext, PatientViewContext } from './schemas.js';

export type ContextFor<H extends HookName> = H extends 'patient-view'
  ? PatientViewContext
  : H extends 'order-select'
    ? OrderSelectContext
    : OrderSignContext;

export type PrefetchSource = 'prefetch' | 'fetched' | 'null' | 'absent';

export interface PrefetchedKey {
  resources: Resource[];
  /** prefetch: sent by the client; fetched: read from fhirServer; null: client said "no data"; absent: optional and unobtainable. */
  source: PrefetchSource;
}

export interface ServiceRequest<H extends HookName> {
  request: CdsRequest;
  context: ContextFor<H>;
  data: Record<string, PrefetchedKey>;
}

export interface CdsServiceDefinition<H extends HookName = HookName, D = unknown> {
  id: string;
  hook: H;
  title: string;
  description: string;
  /** Prefetch templates, published in discovery. */
  prefetch: Record<string, string>;
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
  relevant?(context: ContextFor<H>, deps: D): boolean;
  handler(input: ServiceRequest<H>, deps: D): Promise<CdsResponse>;
}

export interface LoadPrefetchOptions {
  config: Pick<Config, 'fhir'>;
  now: Date;
  /** Aborted by the per-call deadline or when the client goes away. */
  signal: AbortSignal;
  log: Logger;
}

type KeyPlan = { key: string; provided: Resource[]; nextPages: boolean } | { key: string; fetch: true };

/**
 * Resolves every prefetch key of `service` for this request: the client's prefetch when given
 * (`null` means "no data"), otherwise a read from `fhirServer`. Throws a 412 HttpError naming the
 * required keys that could not be obtained, and why.
 */
export async function loadPrefetch(
  service: CdsServiceDefinition<HookName, unknown>,
  request: CdsRequest,
  options: LoadPrefetchOptions,
): Promise<Record<string, PrefetchedKey>> {
  const data: Record<string, PrefetchedKey> = {};
  const plans: KeyPlan[] = [];
  for (const key of Object.keys(service.prefetch)) {
    const value = request.prefetch?.[key];
    if (value === null) {
      data[key] = { resources: [], source: 'null' };
      continue;
    }
    const provided = providedResources(value);
    if (provided) plans.push({ key, provided: provided.resources, nextPages: provided.hasNext });
    else plans.push({ key, fetch: true });
  }

  const needsServer = plans.some((p) => 'fetch' in p || p.nextPages);
  let gateway: FhirGateway | undefined;
  let serverProblem: string | undefined;
  if (needsServer) {
    if (!request.fhirServer) serverProblem = 'no fhirServer was given';
    else serverProblem = checkFhirServer(request.fhirServer, options.config.fhir);
    if (!serverProblem && request.fhirServer) {
      gateway = new FhirGateway({
        baseUrl: request.fhirServer,
        accessToken: request.fhirAuthorization?.access_token,
        signal: options.signal,
        maxPages: options.config.fhir.maxPages,
      });
    }
  }

  const failures: string[] = [];
  const required = new Set(service.requiredPrefetch);
  await Promise.all(
    plans.map(async (plan) => {
      try {
        data[plan.key] = await resolveKey(service, plan, request, gateway, serverProblem, options);
      } catch (error) {
        const reason = error instanceof FhirAccessError || error instanceof PrefetchError ? error.message : 'unexpected error';
        if (!(error instanceof FhirAccessError || error instanceof PrefetchError)) options.log.error({ err: error, key: plan.key }, 'prefetch failed');
        if (required.has(plan.key)) failures.push(`${plan.key}: ${reason}`);
        else {
          options.log.warn({ key: plan.key, reason }, 'optional prefetch key unavailable');
          data[plan.key] = { resources: [], source: 'absent' };
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

class PrefetchError extends Error {}

async function resolveKey(
  service: CdsServiceDefinition<HookName, unknown>,
  plan: KeyPlan,
  request: CdsRequest,
  gateway: FhirGateway | undefined,
  serverProblem: string | undefined,
  options: LoadPrefetchOptions,
): Promise<PrefetchedKey> {
  if ('provided' in plan && !plan.nextPages) return { resources: plan.provided, source: 'prefetch' };
  if (!gateway) throw new PrefetchError(`not prefetched and ${serverProblem ?? 'fhirServer unusable'}`);
  if ('provided' in plan) {
    // The spec forbids next links in prefetch; if a client sends one, read the remaining pages.
    const bundle = request.prefetch?.[plan.key] as Parameters<FhirGateway['collectPages']>[0];
    return { resources: await gateway.collectPages(bundle), source: 'prefetch' };
  }
  const template = service.prefetch[plan.key] ?? '';
  const resolved = resolvePrefetchTemplate(template, request.context);
  if (!resolved.ok) throw new PrefetchError(resolved.reason);
  let url = resolved.url;
  const dateParam = service.dateBoundedPrefetch?.[plan.key];
  if (dateParam) {
    const since = new Date(options.now.getTime() - options.config.fhir.lookbackDays * 86_400_000).toISOString().slice(0, 10);
    url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(dateParam)}=ge${since}`;
  }
  // Page size for our own searches only: in a published template, a client could read _count as
  // "send one page" and truncate its prefetch.
  if (url.includes('?') && !/[?&]_count=/.test(url)) url += `&_count=${options.config.fhir.pageSize}`;
  return { resources: await gateway.fetchAll(url), source: 'fetched' };
}

/** The resources of a prefetch value, or undefined when it must be fetched instead. */
function providedResources(value: unknown): { resources: Resource[]; hasNext: boolean } | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const resource = value as Partial<Resource> & { entry?: { resource?: Resource }[]; link?: { relation?: string }[] };
  if (typeof resource.resourceType !== 'string') return undefined;
  // The spec: a client that failed to prefetch omits the key; some send an OperationOutcome instead.
  if (resource.resourceType === 'OperationOutcome') return undefined;
  if (resource.resourceType !== 'Bundle') return { resources: [resource as Resource], hasNext: false };
  const resources = (Array.isArray(resource.entry) ? resource.entry : [])
    .map((e) => e?.resource)
    .filter((r): r is Resource => Boolean(r) && typeof r?.resourceType === 'string' && r.resourceType !== 'OperationOutcome');
  const hasNext = Array.isArray(resource.link) && resource.link.some((l) => l?.relation === 'next');
  return { resources, hasNext };
}
