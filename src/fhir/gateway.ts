/**
 * FhirGateway: the only code that talks FHIR over HTTP.
 *
 * It reads from the CDS client's `fhirServer` with the `fhirAuthorization` bearer token, follows
 * `next` links, and refuses anything that would leave the server's base URL (a template, a `next`
 * link or a redirect pointing elsewhere). Every read is bounded:
 *  - in time: all requests of one CDS call share one deadline, and the deadline covers the body as
 *    well as the headers (a server that trickles or streams forever is cut off);
 *  - in bytes: each response is read as a stream and aborted, socket closed, once it passes the
 *    per-response cap; all responses of one call share a second, per-call cap. The caps count
 *    decoded bytes, so a compressed body cannot expand past them.
 * Failures are {@link FhirAccessError}s whose messages name the resource type and status, never an
 * id, a token or a body.
 */
import { setMaxListeners } from 'node:events';
import type { Bundle, Resource } from 'fhir/r4.js';
import { httpGet, type HttpAnswer, UnsupportedEncodingError } from './http-get.js';
import type { RequestLimiter } from './limiter.js';
import { decodeJsonText, jsonValueCount, TextDecodingError } from './json-text.js';
import { RepeatScreen } from '../shared/repeat-screen.js';
import { BusyError, type Lease, type Budget } from '../shared/budget.js';
import { readSearchPage, searchBundleProblem, shortOfTotal } from './search-bundle.js';
import type { AssessmentIssue } from '../clinical/types.js';
import { isUnderBase, resolveUnderBase } from './url.js';
import { recordText } from '../clinical/record-text.js';

export type FhirAccessFailure =
  'refused' | 'timeout' | 'unreachable' | 'http-error' | 'invalid-response' | 'too-large' | 'search-failed';

/** Why FHIR data could not be had; carries no token, no identifier and no response body. */
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
  if (url.protocol === 'http:' && !policy.allowHttp)
    return 'fhirServer must use https (set FHIR_ALLOW_HTTP=true only for local demos)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'fhirServer must be an http(s) URL';
  if (policy.allowedOrigins.length > 0 && !policy.allowedOrigins.includes(url.origin)) {
    return `fhirServer origin ${recordText(url.origin)} is not in FHIR_ALLOWED_ORIGINS`;
  }
  return undefined;
}

/**
 * Bytes one CDS call may still read from fhirServer, and JSON values its answers may still hold
 * (the bytes bound memory loosely: an answer of `{},` holds a value per 1.5 bytes), shared by all
 * its requests.
 */
export class ReadBudget {
  private used = 0;
  private spent = false;
  private values = 0;
  /** Room the call's answers hold in the process's budget, given back by {@link release}. */
  private readonly leases: Lease[] = [];
  constructor(
    readonly limit: number,
    /** BODY_MAX_JSON_VALUES: for the call's request body and every answer together; none: not counted. */
    readonly valueLimit = Infinity,
    /** MAX_JSON_VALUES_IN_FLIGHT: the values all calls together may hold (src/shared/budget.ts). */
    private readonly shared?: Budget,
    /** The values the call's request body holds room for (an upper bound: json-body.ts), counted first. */
    bodyValues = 0,
  ) {
    this.values = bodyValues;
  }

  /**
   * Counts the JSON values of an answer's text (before it is parsed): false once the call's answers
   * and its request body hold more than valueLimit. Then waits for room for them in the process's budget, held until
   * {@link release}; rejects with BusyError when none comes within its wait.
   */
  async takeValues(text: string, signal: AbortSignal): Promise<boolean> {
    if (this.valueLimit === Infinity && !this.shared) return true;
    const count = jsonValueCount(text, this.valueLimit - this.values);
    this.values += count;
    if (this.values > this.valueLimit) return false;
    // The call is under way (its body let in): its answers come before new calls (shared/budget.ts).
    if (this.shared)
      this.leases.push(this.shared.tryAcquire(count, true) ?? (await this.shared.acquire(count, signal, true)));
    return true;
  }

  /** Gives back the room the call's answers held: the call is answered, nothing it parsed is needed. */
  release(): void {
    for (const lease of this.leases.splice(0)) lease.release();
  }

  /**
   * Counts `bytes`: `ok` while the call stays within its limit; `passed` for the read that takes
   * it past the limit, and `spent` for every read after that (another read used the budget up).
   */
  take(bytes: number): 'ok' | 'passed' | 'spent' {
    if (this.spent) return 'spent';
    this.used += bytes;
    if (this.used <= this.limit) return 'ok';
    this.spent = true;
    return 'passed';
  }

  /** True once a read has taken the call past its limit. */
  get exhausted(): boolean {
    return this.spent;
  }

  get bytesRead(): number {
    return this.used;
  }
}

export interface GatewayOptions {
  baseUrl: string;
  accessToken?: string | undefined;
  /** Aborts every request of this gateway (the per-call deadline, or the client going away). */
  signal: AbortSignal;
  maxPages: number;
  /** Largest response body read, in decoded bytes. */
  maxResponseBytes: number;
  /** Shared by every gateway of one CDS call. */
  budget: ReadBudget;
  /** Caps the requests of one CDS call in flight together (FHIR_MAX_CONCURRENT_REQUESTS); none: no cap. */
  limiter?: RequestLimiter | undefined;
  /** Told of every request once it ends (metrics); never given a URL, only the resource type. */
  observer?: FhirRequestObserver | undefined;
  /**
   * Told of a search whose Bundle reports a `total` above what its pages held, with no next link to the
   * rest (shortOfTotal): assessed on what it holds, and said on the cards, as for a prefetch.
   */
  onShort?: ((issue: AssessmentIssue) => void) | undefined;
}

/** Outcome (`ok` or a FhirAccessFailure), resource type (see describe) and duration of one request. */
export type FhirRequestObserver = (outcome: 'ok' | FhirAccessFailure, resourceType: string, seconds: number) => void;

/** What a resource type name looks like; a server's text outside it never reaches a message. */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

const JSON_TYPES = /^application\/(fhir\+)?json\b|^application\/json\+fhir\b/i;

export class FhirGateway {
  private readonly base: URL;

  constructor(private readonly options: GatewayOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  /**
   * Reads a relative FHIR URL (a read or a search). Searches are followed through their `next`
   * links; the result is the list of resources, without OperationOutcome entries. A search whose
   * Bundle reports an error (an OperationOutcome entry with an error issue) fails: a failed search
   * is not an empty record. So does a search answered with anything but a Bundle: an
   * OperationOutcome there is the server's failure, never data, and another resource is not the
   * searchset asked for. A read's answer is the resource, of the type read (readAnswer).
   */
  async fetchAll(relativeUrl: string): Promise<unknown[]> {
    const target = resolveUnderBase(this.options.baseUrl, relativeUrl);
    if (!target)
      throw new FhirAccessError('refused', `refused to fetch ${describe(relativeUrl)}: it resolves outside fhirServer`);
    const asked = pathUnder(this.base, target);
    const what = describe(asked);
    const first = await this.get(target, what);
    if (!isSearch(asked)) return this.readAnswer(first, targetOf(asked)?.type, what);
    if (first.resourceType === 'Bundle') {
      const resources = await this.collectPages(first as Bundle, what, countOf(relativeUrl));
      const short = shortOfTotal(targetOf(asked)?.type ?? 'FHIR', (first as Bundle).total, resources.length);
      if (short) this.options.onShort?.(short);
      return resources;
    }
    if (first.resourceType === 'OperationOutcome')
      throw new FhirAccessError(
        'search-failed',
        `fhirServer answered ${what} with an OperationOutcome instead of a Bundle: the search failed`,
      );
    throw new FhirAccessError(
      'invalid-response',
      `fhirServer answered ${what} with ${aResource(first.resourceType)}, not a Bundle`,
    );
  }

  /**
   * What a read (`Patient/p1`) was answered with, held to the rule the prefetch keeps (service.ts
   * providedResources): the resource type read, or a Bundle of only that type (a server that runs
   * reads as searches). An OperationOutcome is the server's failure, never the resource; another
   * type (an Observation for the Patient) is not the resource read, and would be taken as data.
   */
  private async readAnswer(first: Resource, type: string | undefined, what: string): Promise<unknown[]> {
    if (first.resourceType === 'OperationOutcome')
      throw new FhirAccessError(
        'invalid-response',
        `fhirServer answered ${what} with an OperationOutcome instead of ${aResource(type)}: the read failed`,
      );
    if (first.resourceType !== 'Bundle') {
      if (first.resourceType === type) return [first];
      throw new FhirAccessError(
        'invalid-response',
        `fhirServer answered ${what} with ${aResource(first.resourceType)}, not ${aResource(type)}`,
      );
    }
    const resources = await this.collectPages(first as Bundle, what);
    const other = resources.find((r) => (r as { resourceType?: unknown }).resourceType !== type);
    if (other === undefined) return resources;
    throw new FhirAccessError(
      'invalid-response',
      `fhirServer answered ${what} with a Bundle holding ${aResource((other as { resourceType?: unknown }).resourceType)}, not only ${aResource(type)}`,
    );
  }

  /**
   * Reads several searches that together make one set of data (e.g. one search per group of lab
   * codes), concurrently within the call's request cap, and returns their union with each resource
   * once: a resource matching two of the searches is not counted twice (one search's own entries
   * are all kept). With `timeoutMs`, the searches give up after that long (a 'timeout'
   * FhirAccessError) and leave the rest of the call's deadline to what follows.
   */
  async fetchUnion(
    relativeUrls: readonly string[],
    options: { timeoutMs?: number; onShort?: (issue: AssessmentIssue) => void } = {},
  ): Promise<unknown[]> {
    const onShort = options.onShort ?? this.options.onShort;
    if (options.timeoutMs === undefined) return new FhirGateway({ ...this.options, onShort }).union(relativeUrls);
    const own = ownDeadline(this.options.signal, options.timeoutMs);
    try {
      return await new FhirGateway({ ...this.options, signal: own.signal, onShort }).union(relativeUrls);
    } finally {
      own.done();
    }
  }

  private async union(relativeUrls: readonly string[]): Promise<unknown[]> {
    if (relativeUrls.length === 1) return this.fetchAll(relativeUrls[0] ?? '');
    // One failed search fails the set: the others are cancelled at once, their sockets closed.
    const siblings = new AbortController();
    const signal = AbortSignal.any([this.options.signal, siblings.signal]);
    setMaxListeners(0, signal); // one listener per read in flight, each removed when done
    const gateway = new FhirGateway({ ...this.options, signal });
    const results = await Promise.all(
      relativeUrls.map((url) =>
        gateway.fetchAll(url).catch((error: unknown) => {
          siblings.abort();
          throw error;
        }),
      ),
    );
    return unionOfSearches(results);
  }

  /**
   * Reads one resource by relative reference (`Medication/123`); undefined when it does not exist.
   * With `timeoutMs`, the read gives up after that long (a 'timeout' FhirAccessError) and leaves
   * the rest of the call's deadline to the reads that follow it.
   */
  async read(reference: string, options: { timeoutMs?: number } = {}): Promise<Resource | undefined> {
    const target = resolveUnderBase(this.options.baseUrl, reference);
    if (!target)
      throw new FhirAccessError('refused', `refused to fetch ${describe(reference)}: it resolves outside fhirServer`);
    const own = options.timeoutMs === undefined ? undefined : ownDeadline(this.options.signal, options.timeoutMs);
    try {
      return await this.get(target, describe(pathUnder(this.base, target)), own?.signal);
    } catch (error) {
      if (error instanceof FhirAccessError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    } finally {
      own?.done();
    }
  }

  /**
   * Collects a Bundle's resources and those of the pages its `next` links lead to. A page whose
   * `entry` is not a list of objects is an invalid response (searchBundleSchema, the prefetch's rule),
   * and so is one with an entry that carries no resource, or (given the search's `_count`) more
   * results than it asked for (readSearchPage); every page is held to the `_count` of the first request.
   */
  async collectPages(bundle: Bundle, what = 'a search', count?: number): Promise<unknown[]> {
    const resources: unknown[] = [];
    const seen = new Set<string>();
    let page: Bundle | undefined = bundle;
    for (let pages = 1; page; pages++) {
      const problem = searchBundleProblem(page);
      if (problem)
        throw new FhirAccessError('invalid-response', `fhirServer answered ${what} with a Bundle whose ${problem}`);
      const read = readSearchPage(page, count);
      if (!read.ok && read.failed)
        throw new FhirAccessError(
          'search-failed',
          'fhirServer reported that the search failed (an OperationOutcome with an error in the Bundle)',
        );
      if (!read.ok)
        throw new FhirAccessError(
          'invalid-response',
          `fhirServer answered ${what} with a Bundle whose ${read.problem}`,
        );
      for (const resource of read.resources) resources.push(resource);
      const { next } = read;
      if (!next) break;
      if (pages >= this.options.maxPages) {
        throw new FhirAccessError('refused', `search has more than ${this.options.maxPages} pages (FHIR_MAX_PAGES)`);
      }
      const nextUrl = followable(next, this.base);
      if ('why' in nextUrl) throw new FhirAccessError('refused', `refused to follow a next link: ${nextUrl.why}`);
      if (seen.has(nextUrl.url.href))
        throw new FhirAccessError('invalid-response', 'a next link leads back to a page already read (paging loop)');
      seen.add(nextUrl.url.href);
      const fetched = await this.get(nextUrl.url, what);
      if (fetched.resourceType !== 'Bundle')
        throw new FhirAccessError('invalid-response', 'a next link did not return a Bundle');
      page = fetched as Bundle;
    }
    return resources;
  }

  /**
   * `what` names the request in messages and metrics (describe): taken from what the service asked
   * for, never from a URL the server gave (a next link's path is the server's text).
   */
  private async get(url: URL, what: string, signal = this.options.signal): Promise<Resource> {
    const { limiter } = this.options;
    if (!limiter) return this.observed(url, what, signal);
    try {
      return await limiter.run(signal, () => this.observed(url, what, signal));
    } catch (error) {
      if (error instanceof FhirAccessError || !signal.aborted) throw error;
      throw abortError(signal); // aborted while waiting for a free request slot
    }
  }

  /** getNow, reported to the observer (if any) with its outcome and duration. */
  private async observed(url: URL, what: string, signal: AbortSignal): Promise<Resource> {
    const { observer } = this.options;
    if (!observer) return this.getNow(url, what, signal);
    const started = performance.now();
    const named = what.split(' ')[0] ?? '';
    const type = RESOURCE_TYPE.test(named) ? named : 'other';
    try {
      const resource = await this.getNow(url, what, signal);
      observer('ok', type, (performance.now() - started) / 1000);
      return resource;
    } catch (error) {
      if (error instanceof BusyError) throw error; // the answer came: the service, not fhirServer, had no room
      const outcome = error instanceof FhirAccessError ? error.kind : 'unreachable';
      observer(outcome, type, (performance.now() - started) / 1000);
      throw error;
    }
  }

  private async getNow(url: URL, what: string, signal: AbortSignal): Promise<Resource> {
    const { budget } = this.options;
    if (signal.aborted) throw abortError(signal);
    if (budget.exhausted) throw budgetSpent(what, budget); // not sent: nothing of it could be read
    let response: HttpAnswer;
    try {
      // node:http never follows a redirect: one could lead outside fhirServer. It is reported below.
      response = await httpGet(
        url,
        {
          accept: 'application/fhir+json, application/json;q=0.9',
          ...(this.options.accessToken ? { authorization: `Bearer ${this.options.accessToken}` } : {}),
        },
        signal,
      );
    } catch {
      throw signal.aborted
        ? abortError(signal)
        : new FhirAccessError('unreachable', `fhirServer could not be reached for ${what}`);
    }
    try {
      if (response.status >= 300 && response.status < 400) {
        throw new FhirAccessError(
          'refused',
          `fhirServer answered ${response.status} (redirect) to ${what}; redirects are not followed`,
          response.status,
        );
      }
      if (response.status < 200 || response.status >= 300)
        throw new FhirAccessError('http-error', `fhirServer answered ${response.status} to ${what}`, response.status);
      const type = response.header('content-type') ?? '';
      if (!JSON_TYPES.test(type)) {
        throw new FhirAccessError(
          'invalid-response',
          `fhirServer answered ${what} with ${type.split(';')[0]?.slice(0, 60) || 'no content type'}, not FHIR JSON`,
        );
      }
      const text = await this.readText(response, what);
      const { budget } = this.options;
      if (!(await budget.takeValues(text, signal))) {
        throw new FhirAccessError(
          'too-large',
          `with ${what}, fhirServer's answers to this call and its request body hold more than ${budget.valueLimit.toLocaleString('en')} JSON values (BODY_MAX_JSON_VALUES); not parsed`,
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new FhirAccessError('invalid-response', `fhirServer answered ${what} with malformed JSON`);
      }
      if (
        !body ||
        typeof body !== 'object' ||
        Array.isArray(body) ||
        typeof (body as Resource).resourceType !== 'string'
      ) {
        throw new FhirAccessError(
          'invalid-response',
          `fhirServer answered ${what} with JSON that is not a FHIR resource`,
        );
      }
      return body as Resource;
    } catch (error) {
      response.close(); // closes the socket of a body we stop reading
      if (error instanceof FhirAccessError || error instanceof BusyError) throw error;
      if (error instanceof UnsupportedEncodingError)
        throw new FhirAccessError('invalid-response', `fhirServer answered ${what} with ${error.message}`);
      throw signal.aborted
        ? abortError(signal)
        : new FhirAccessError('unreachable', `the connection to fhirServer broke while reading ${what}`);
    }
  }

  /** Reads the body, counting decoded bytes against both caps, and decodes it as request bodies are. */
  private async readText(response: HttpAnswer, what: string): Promise<string> {
    const { maxResponseBytes, budget } = this.options;
    const declared = Number(response.header('content-length'));
    if (Number.isFinite(declared) && declared > maxResponseBytes && !response.header('content-encoding'))
      throw tooLarge(what, maxResponseBytes);
    let size = 0;
    const body = await response.read((bytes) => {
      size += bytes;
      if (size > maxResponseBytes) return tooLarge(what, maxResponseBytes);
      const taken = budget.take(bytes);
      if (taken === 'passed') {
        return new FhirAccessError(
          'too-large',
          `reading ${what} passed the ${mb(budget.limit)} this call may read from fhirServer (FHIR_MAX_CALL_BYTES)`,
        );
      }
      return taken === 'spent' ? budgetSpent(what, budget) : undefined;
    });
    try {
      return decodeJsonText(body, response.header('content-type'));
    } catch (error) {
      if (!(error instanceof TextDecodingError)) throw error;
      throw new FhirAccessError('invalid-response', `fhirServer answered ${what} with ${error.message}`);
    }
  }
}

/**
 * The union of several searches' resources, each resource once: the same resource (type, id and
 * versionId) from a later search is the one matched twice (an Observation coded for two of the
 * searches' code groups) and left out; twice within one search, it is two entries the engine must
 * see (two versions without a versionId: it reports the ambiguity). In the searches' order.
 */
export function unionOfSearches(results: readonly (readonly unknown[])[]): unknown[] {
  // Usually no id occurs twice: then the union is every search's entries, with no key built per
  // resource (building and looking up one for each of 5,000 Observations cost 3 ms a call).
  const screen = new RepeatScreen(results.reduce((n, list) => n + list.length, 0));
  const all: unknown[] = [];
  let emptyId = false; // an id '' is an id to the rule below, and the screen passes it over
  for (const list of results)
    for (const r of list) {
      const id = (r as { id?: unknown }).id;
      if (id === '') emptyId = true;
      screen.add(all.push(r) - 1, id);
    }
  if (!emptyId && !screen.mayRepeat((i) => (all[i] as { id?: unknown }).id)) return all;
  // Key → the search that gave it first. The same key from another search is the same resource
  // matched twice (an Observation coded for two groups); twice within one search, it is two
  // entries the engine must see (two versions without a versionId: it reports the ambiguity).
  const seen = new Map<string, number>();
  const union: unknown[] = [];
  for (const [search, list] of results.entries()) {
    for (const r of list) {
      const { resourceType, id, meta } = r as {
        resourceType?: unknown;
        id?: unknown;
        meta?: { versionId?: unknown };
      };
      if (typeof id === 'string') {
        const version = typeof meta?.versionId === 'string' ? meta.versionId : '';
        // Unambiguous whatever the strings hold ('a' at version '1/' is not 'a/1'): the union runs
        // before the resources are screened.
        const key = JSON.stringify([resourceType, id, version]);
        const first = seen.get(key);
        if (first !== undefined && first !== search) continue;
        seen.set(key, search);
      }
      union.push(r);
    }
  }
  return union;
}

/** A search rather than a read: a query, a type alone (`Observation`), or `_search`. */
export function isSearch(relativeUrl: string): boolean {
  return relativeUrl.includes('?') || targetOf(relativeUrl)?.kind === 'search';
}

/** `a Patient`, `an OperationOutcome`; `a resource` when the type is no plausible resource type name. */
export function aResource(type: unknown): string {
  if (typeof type !== 'string' || !RESOURCE_TYPE.test(type)) return 'a resource';
  return `${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** A read cut off (or never sent) because another read of the call used the call's budget up. */
function budgetSpent(what: string, budget: ReadBudget): FhirAccessError {
  return new FhirAccessError(
    'too-large',
    `reading ${what} stopped: another read used up the ${mb(budget.limit)} this call may read from fhirServer (FHIR_MAX_CALL_BYTES)`,
  );
}

function tooLarge(what: string, limit: number): FhirAccessError {
  return new FhirAccessError(
    'too-large',
    `the response to ${what} is larger than ${mb(limit)} (FHIR_MAX_RESPONSE_BYTES); reading stopped`,
  );
}

function mb(bytes: number): string {
  return `${Math.round((bytes / 1_048_576) * 10) / 10} MB`;
}

/** Why a read with its own time limit (FhirGateway.read's or fetchUnion's timeoutMs) was stopped. */
class ReadTimeout extends Error {
  override name = 'TimeoutError';
  constructor(readonly ms: number) {
    super(`the read took longer than ${ms} ms`);
  }
}

/** A signal that aborts after `ms`, or with the call's signal: for one read that must not use up the call. */
function ownDeadline(call: AbortSignal, ms: number): { signal: AbortSignal; done(): void } {
  const own = new AbortController();
  const onCall = (): void => own.abort(call.reason);
  if (call.aborted) onCall();
  else call.addEventListener('abort', onCall, { once: true });
  const timer = setTimeout(() => own.abort(new ReadTimeout(ms)), ms);
  timer.unref();
  return {
    signal: own.signal,
    done: () => {
      clearTimeout(timer);
      call.removeEventListener('abort', onCall);
    },
  };
}

function abortError(signal: AbortSignal): FhirAccessError {
  const reason = signal.reason as Error | undefined;
  if (reason instanceof ReadTimeout)
    return new FhirAccessError('timeout', `fhirServer did not answer within the ${reason.ms} ms this read may take`);
  return reason?.name === 'TimeoutError'
    ? new FhirAccessError(
        'timeout',
        'fhirServer did not answer within the deadline (FHIR_TIMEOUT_MS); headers and body count',
      )
    : new FhirAccessError('unreachable', 'the request was cancelled (the CDS client went away)');
}

/** The `_count` a search URL asks for, when it names one. */
function countOf(relativeUrl: string): number | undefined {
  const query = relativeUrl.split('?')[1];
  const value = query === undefined ? null : new URLSearchParams(query).get('_count');
  return value !== null && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

/**
 * A next link as a URL to follow, or why it may not be followed, in words that say what is wrong
 * with it: a URL's origin drops its user name and password, so "outside fhirServer" would name the
 * server's own origin for a link that carries credentials.
 */
function followable(next: string, base: URL): { url: URL } | { why: string } {
  const url = parseUrl(next);
  if (!url) return { why: URL.canParse(next, base.href) ? 'it is relative, not an absolute URL' : 'it is not a URL' };
  if (url.username || url.password) return { why: 'it carries credentials (a user name or password in the URL)' };
  if (url.origin !== base.origin) {
    // file:, data: have no origin; a host name may be long, and reaches a card
    const where = url.origin === 'null' ? `a ${recordText(url.protocol, 20)} URL` : recordText(url.origin);
    return { why: `it leads to ${where}, outside fhirServer ${recordText(base.origin)}` };
  }
  if (!isUnderBase(base, url)) return { why: "it leads outside fhirServer's base path" };
  return { url };
}

function parseUrl(url: string): URL | undefined {
  // canParse rather than a caught exception: relative references (every prefetch template, most
  // references) take this path, and building the TypeError with its stack was most of their cost.
  return URL.canParse(url) ? new URL(url) : undefined;
}

/**
 * Names a request by its resource type only, e.g. `Observation search` or `Patient read`: paths and
 * queries carry patient identifiers, which never reach a log line or an error message.
 */
export function describe(relativeUrl: string): string {
  const target = targetOf(relativeUrl);
  return target ? `${target.type} ${target.kind}` : 'a FHIR request';
}

/** The path and query of `url` after the FHIR base `base` (which it is under: resolveUnderBase). */
function pathUnder(base: URL, url: URL): string {
  return `${url.pathname.slice(base.pathname.length)}${url.search}`;
}

/**
 * The resource type a FHIR URL relative to the base reads or searches, and which of the two, from
 * the URL's structure (FHIR RESTful API): `Type`, `Type?query` and `Type/_search` search Type;
 * `Type/id` and `Type/id/_history/vid` read Type; `Type/id/Other` searches Other in Type's
 * compartment. The type is the first segment, so an id is never taken for one, whatever it looks
 * like (`Patient/JohnSmith` is a Patient read); anything else is undefined.
 */
export function targetOf(relativeUrl: string): { type: string; kind: 'read' | 'search' } | undefined {
  const path = relativeUrl.split(/[?#]/, 1)[0] ?? '';
  const segments = path.split('/').filter(Boolean);
  const [type, id, third] = segments;
  if (type === undefined || !RESOURCE_TYPE.test(type)) return undefined;
  if (id === undefined || (id === '_search' && segments.length === 2)) return { type, kind: 'search' };
  if (segments.length === 2) return { type, kind: 'read' };
  if (segments.length === 4 && third === '_history') return { type, kind: 'read' };
  if (segments.length === 3 && third !== undefined && RESOURCE_TYPE.test(third)) return { type: third, kind: 'search' };
  return undefined;
}
