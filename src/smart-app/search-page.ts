/**
 * One answer of the app's FHIR reads, checked before anything of it is used. A search is answered
 * with a Bundle of results; an HTTP 200 carrying anything else (an OperationOutcome saying the search
 * was too costly, a bare Observation) is a failed read, never the record: taken as data it showed
 * "no CAR-T infusion found" and "no problems found". A read (`Patient/<id>`) is answered with the
 * resource itself. Pages are followed here, so that a `next` link leaving the FHIR server is refused
 * instead of receiving the access token. Pure but for `get`: the reasons quote nothing of the answer
 * but an OperationOutcome's words.
 */
import type { Bundle, FhirResource } from 'fhir/r4.js';
import type { AssessmentIssue } from '../clinical/types.js';
import { isFailureOutcome, readSearchPage, searchBundleProblem, shortOfTotal } from '../fhir/search-bundle.js';
import { isUnderBase } from '../fhir/url.js';

/** What one answer gives: its resources, the next page's URL as sent and the `total` it reports (Bundles only). */
export interface AnswerPage {
  resources: FhirResource[];
  next: string | undefined;
  total?: unknown;
}

/** Every resource a read or search gave, and what to say about them (a search short of its total). */
export interface ReadResult {
  resources: FhirResource[];
  issues: AssessmentIssue[];
}

/** An answer that cannot be read as what was asked; the message says why. */
export class UnreadableAnswer extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'UnreadableAnswer';
  }
}

/** A resource type worth naming (`Observation`); anything else is "a resource". */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

const aResource = (type: string): string =>
  RESOURCE_TYPE.test(type) ? `${/^[AEIOU]/.test(type) ? 'an' : 'a'} ${type}` : 'a resource';

/** The first issue's diagnostics (or details.text) of an OperationOutcome, at most 200 characters, or ''. */
export function outcomeDetail(body: unknown): string {
  const issues = (body as { issue?: unknown } | null)?.issue;
  const first = (Array.isArray(issues) ? issues[0] : undefined) as
    { diagnostics?: unknown; details?: { text?: unknown } | null } | null | undefined;
  const detail = first?.diagnostics ?? first?.details?.text;
  return typeof detail === 'string' ? detail.slice(0, 200) : '';
}

/** A read's path: `Type/id`, no query. Anything else the app sends is a search. */
export function isReadPath(path: string): boolean {
  return /^[A-Z][A-Za-z]+\/[^/?#]+$/.test(path);
}

/** Why a search answered with `resource` (not a Bundle) gave no results, with the OperationOutcome's words. */
function notABundle(resource: { resourceType: string }): string {
  const detail = resource.resourceType === 'OperationOutcome' ? outcomeDetail(resource) : '';
  return `the server answered with ${aResource(resource.resourceType)} instead of a Bundle of search results${detail ? `: ${detail}` : ''}`;
}

/**
 * The resources and next link of `body`, the JSON answer to a search (`search`) or a read; throws
 * {@link UnreadableAnswer} when it is no FHIR resource, or a search's answer is not a Bundle.
 */
export function readAnswer(body: unknown, search: boolean): AnswerPage {
  if (
    !body ||
    typeof body !== 'object' ||
    Array.isArray(body) ||
    typeof (body as { resourceType?: unknown }).resourceType !== 'string'
  )
    throw new UnreadableAnswer('the server answered with something that is not a FHIR resource');
  const resource = body as FhirResource;
  if (resource.resourceType !== 'Bundle') {
    if (search) throw new UnreadableAnswer(notABundle(resource));
    return { resources: [resource], next: undefined };
  }
  return bundlePage(resource);
}

/**
 * A Bundle's resources and next link, by the service's rule (fhir/search-bundle.ts): an `entry`
 * that is not a list of objects, an entry without a resource, a `link` that is not a list of
 * links, or an OperationOutcome entry reporting an error is a broken answer, never an empty record.
 */
function bundlePage(bundle: object): AnswerPage {
  const problem = searchBundleProblem(bundle);
  // Given resourceType "Bundle", the only other way to break the schema is a `type` that is not a string.
  if (problem)
    throw new UnreadableAnswer(
      `the server answered with a Bundle whose ${problem === 'is not a Bundle' ? 'type is not a string' : problem}`,
    );
  const page = readSearchPage(bundle);
  if (page.ok) return { resources: page.resources as FhirResource[], next: page.next, total: (bundle as Bundle).total };
  if (!page.failed) throw new UnreadableAnswer(`the server answered with a Bundle whose ${page.problem}`);
  const outcome = (bundle as Bundle).entry?.find(
    (e) => e.resource?.resourceType === 'OperationOutcome' && isFailureOutcome(e.resource),
  )?.resource;
  const detail = outcomeDetail(outcome);
  throw new UnreadableAnswer(
    `the server reported that the search failed (an OperationOutcome in the Bundle)${detail ? `: ${detail}` : ''}`,
  );
}

/** The next page's absolute URL; a link that is no URL (`http://[::1`) or leaves the server is not followed. */
function nextUrl(next: string, base: URL): string {
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    throw new UnreadableAnswer('the server sent a next-page link that is not a URL');
  }
  if (!isUnderBase(base, url))
    throw new UnreadableAnswer('the server sent a next-page link outside itself; not followed');
  return url.href;
}

const MAX_PAGES = 50;

/**
 * Every resource `path` (relative to `base`) gives, following next links: `get` fetches one
 * absolute URL's JSON. Throws {@link UnreadableAnswer} for an answer that is not what was asked, a
 * next link leaving the server, or more than MAX_PAGES pages; `get`'s own errors pass through. A
 * search whose pages report a `total` above what they hold is noted (shortOfTotal, the cards' rule).
 */
export async function readPages(
  get: (url: string) => Promise<unknown>,
  base: URL,
  path: string,
  onPage: (resources: number) => void,
): Promise<ReadResult> {
  const search = !isReadPath(path);
  let url: string | undefined = new URL(path, base).href;
  const out: FhirResource[] = [];
  let total: unknown;
  for (let page = 0; url; page++) {
    if (page >= MAX_PAGES) throw new UnreadableAnswer(`more than ${MAX_PAGES} pages`);
    const answer = readAnswer(await get(url), search);
    for (const resource of answer.resources) out.push(resource);
    onPage(answer.resources.length);
    // Servers repeat the search's total on each page; when they differ, the largest counts.
    if (typeof answer.total === 'number' && !(typeof total === 'number' && total >= answer.total)) total = answer.total;
    url = answer.next === undefined ? undefined : nextUrl(answer.next, base);
  }
  const short = search ? shortOfTotal(searchedType(path), total, out.length) : undefined;
  return { resources: out, issues: short ? [short] : [] };
}

/** The resource type a search path names (`Observation?…` → Observation). */
const searchedType = (path: string): string => /^[A-Z][A-Za-z]+/.exec(path)?.[0] ?? 'FHIR';
