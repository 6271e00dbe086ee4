/**
 * What a Bundle answering a search must look like before its entries are read: the one rule for a
 * client's prefetch (a 400 when broken, src/cds-hooks/router.ts) and fhirServer's pages (an
 * invalid response, gateway.ts). An `entry` that is not a list, or an entry that is not an object,
 * is a broken Bundle, never an empty record. readSearchPage then reads the entries and the paging of
 * both alike.
 */
import type { OperationOutcome } from 'fhir/r4.js';
import { z } from 'zod';
import type { AssessmentIssue } from '../clinical/types.js';
import { isObject } from './resource-check.js';

export const searchBundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.string().optional(),
  entry: z.array(z.looseObject({})).optional(),
});

/**
 * Whether `value` keeps to {@link searchBundleSchema}, decided without zod: parsing a 5,000-entry
 * page with it copies every entry (3 ms), and each page and prefetch Bundle is checked. zod is
 * still what words a Bundle that does not keep to it; a property test holds the two to one answer.
 */
export function keepsToSearchBundle(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { resourceType, type, entry } = value as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (resourceType !== 'Bundle' || (type !== undefined && typeof type !== 'string')) return false;
  if (entry === undefined) return true;
  if (!Array.isArray(entry)) return false;
  for (let i = 0; i < entry.length; i++) if (!isObject(entry[i])) return false;
  return true;
}

/** Why `value` breaks {@link searchBundleSchema} as zod words it, or undefined when it keeps to it. */
export function searchBundleError(value: unknown): z.ZodError | undefined {
  if (keepsToSearchBundle(value)) return undefined;
  // zod words one issue per entry that is not an object: a million of them, from a 2 MB body, held
  // gigabytes. The entries up to the first bad one give the same first issue, and only it.
  const entry: unknown = (value as { entry?: unknown } | null)?.entry;
  const firstBad = Array.isArray(entry) ? entry.findIndex((e) => !isObject(e)) : -1;
  const checked = firstBad >= 0 ? { ...(value as object), entry: (entry as unknown[]).slice(0, firstBad + 1) } : value;
  const result = searchBundleSchema.safeParse(checked);
  return result.success ? undefined : result.error;
}

/**
 * Why `bundle` breaks {@link searchBundleSchema}, in words that quote nothing of it (`entry is not
 * a list`, `entry[3] is not an object`), or undefined when it keeps to it.
 */
export function searchBundleProblem(bundle: unknown): string | undefined {
  const error = searchBundleError(bundle);
  if (!error) return undefined;
  const path = error.issues[0]?.path ?? [];
  if (path[0] !== 'entry') return 'is not a Bundle';
  return typeof path[1] === 'number' ? `entry[${path[1]}] is not an object` : 'entry is not a list';
}

/** What one search page gives: its resources (OperationOutcomes left out) and its next link. */
export type SearchPage =
  | { ok: true; resources: unknown[]; next: string | undefined }
  /** `failed`: an OperationOutcome entry reports an error. Otherwise `problem` says why the page is no valid search result. */
  | { ok: false; failed: true }
  | { ok: false; failed: false; problem: string };

/**
 * The resources of a search page (a Bundle already held to searchBundleSchema) and its next link,
 * or why the page cannot be read as a search result, worded to follow "a Bundle whose" and quoting
 * nothing of it. R4 bdl-5: an entry of a searchset carries a resource (entry.request and
 * entry.response are for other Bundle types, bdl-3/bdl-4); an entry without one is a broken answer,
 * never a result to skip, or a search whose entries are all like that reads as an empty record.
 * With `count` (the search's `_count`), a page of more results (OperationOutcomes aside) is refused.
 */
export function readSearchPage(bundle: { entry?: unknown; link?: unknown }, count?: number): SearchPage {
  const resources: unknown[] = [];
  const entries = (bundle.entry ?? []) as unknown[];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as { resource?: unknown } | null;
    const resource = entry?.resource as { resourceType?: unknown } | null | undefined;
    if (!resource || typeof resource !== 'object' || Array.isArray(resource))
      return { ok: false, failed: false, problem: `entry[${i}] has no resource` };
    if (resource.resourceType === 'OperationOutcome') {
      const problem = outcomeProblem(resource as Partial<OperationOutcome>);
      if (problem) return { ok: false, failed: false, problem: `entry[${i}] is an OperationOutcome whose ${problem}` };
      // Warnings and notes ("no results", "some data may be restricted") leave the data usable.
      if (isFailureOutcome(resource as OperationOutcome)) return { ok: false, failed: true };
      continue;
    }
    // search.mode "outcome" names an OperationOutcome (handled above); any other resource so
    // marked is still data of the search, read like the rest rather than dropped without a word.
    // R4 search (_count): a server SHALL NOT return more results per page than asked for. A page
    // holding more (a hostile server's millions of entries) is refused before any is screened.
    if (resources.push(resource) > (count ?? Infinity))
      return {
        ok: false,
        failed: false,
        problem: `entry holds more than the ${count ?? 0} results asked for (_count)`,
      };
  }
  const next = nextLink(bundle.link);
  return 'problem' in next
    ? { ok: false, failed: false, problem: next.problem }
    : { ok: true, resources, next: next.url };
}

/**
 * The url of a Bundle's `next` link, or why its links cannot be read: a `link` that is not a list,
 * a link without a relation, or a next link whose url is not a string (or is empty) would otherwise
 * read as "no more pages" and the record as complete.
 */
function nextLink(links: unknown): { url: string | undefined } | { problem: string } {
  if (links === undefined) return { url: undefined };
  if (!Array.isArray(links)) return { problem: 'link is not a list' };
  let url: string | undefined;
  for (let i = 0; i < links.length; i++) {
    const link = links[i] as { relation?: unknown; url?: unknown } | null;
    if (!link || typeof link !== 'object' || Array.isArray(link)) return { problem: `link[${i}] is not an object` };
    if (typeof link.relation !== 'string') return { problem: `link[${i}].relation is not a string` };
    if (link.relation !== 'next') continue;
    if (typeof link.url !== 'string') return { problem: "next link's url is not a string" };
    if (link.url === '') return { problem: "next link's url is empty" };
    url ??= link.url;
  }
  return { url };
}

/** FHIR R4 IssueSeverity. */
const SEVERITIES: ReadonlySet<unknown> = new Set(['fatal', 'error', 'warning', 'information']);

/**
 * Why an OperationOutcome cannot be read as a report (worded to follow "an OperationOutcome
 * whose"), or undefined: an `issue` that is not a non-empty list, or an issue whose severity is not
 * one of R4's codes (`ERROR`, none), cannot be told from a failure, so it is never read as "no error".
 */
export function outcomeProblem(outcome: Partial<OperationOutcome>): string | undefined {
  const issues: unknown = outcome.issue;
  if (!Array.isArray(issues) || issues.length === 0) return 'issue is not a list of issues';
  for (let i = 0; i < issues.length; i++)
    if (!SEVERITIES.has((issues[i] as { severity?: unknown } | null)?.severity))
      return `issue[${i}].severity is not fatal, error, warning or information`;
  return undefined;
}

/** Whether an OperationOutcome reports a failure (rather than a warning or a note). */
export function isFailureOutcome(outcome: Partial<OperationOutcome>): boolean {
  return Array.isArray(outcome.issue) && outcome.issue.some((i) => i?.severity === 'error' || i?.severity === 'fatal');
}

/**
 * A search whose Bundle's `total` counts more results than the `held` it gave, with no next link
 * to the rest: a truncated search, assessed on what it holds, and said (the cards' prefetch and the
 * SMART app's pages alike). `type` is the searched resource type.
 */
export function shortOfTotal(type: string, total: unknown, held: number): AssessmentIssue | undefined {
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total <= held) return undefined;
  return {
    severity: 'warning',
    code: 'data-unavailable',
    message: `the EHR's ${type} search reports ${total.toLocaleString('en')} results but holds ${held.toLocaleString('en')}, with no link to the rest: assessed on those it holds`,
  };
}
