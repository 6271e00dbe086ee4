/**
 * What a Bundle answering a search must look like before its entries are read: the one rule for a
 * client's prefetch (a 400 when broken, src/cds-hooks/router.ts) and fhirServer's pages (an
 * invalid response, gateway.ts). An `entry` that is not a list, or an entry that is not an object,
 * is a broken Bundle, never an empty record; an entry without a resource is skipped by the readers.
 */
import type { OperationOutcome } from 'fhir/r4.js';
import { z } from 'zod';
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
  const result = searchBundleSchema.safeParse(value);
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

/** Whether an OperationOutcome reports a failure (rather than a warning or a note). */
export function isFailureOutcome(outcome: Partial<OperationOutcome>): boolean {
  return Array.isArray(outcome.issue) && outcome.issue.some((i) => i?.severity === 'error' || i?.severity === 'fatal');
}
