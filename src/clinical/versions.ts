/**
 * Which of two versions of one resource (same type and id, e.g. repeated across search pages or
 * prefetch keys) is the later, by what the server says of them (docs/clinical-logic.md §3).
 */
import type { Meta } from 'fhir/r4.js';

/**
 * 1 when `a` is the later version, -1 when `b` is, 0 when their metadata cannot tell: `meta.versionId`
 * when both are numbers, then `meta.lastUpdated` as instants (12:00:00-05:00 is after 16:30:00Z,
 * and 10:00:00Z is 10:00:00.000Z), as text when either is not an instant.
 */
export function compareVersions(a: { meta?: Meta | undefined }, b: { meta?: Meta | undefined }): -1 | 0 | 1 {
  const va = Number(a.meta?.versionId);
  const vb = Number(b.meta?.versionId);
  if (Number.isFinite(va) && Number.isFinite(vb) && va !== vb) return va > vb ? 1 : -1;
  const la = a.meta?.lastUpdated ?? '';
  const lb = b.meta?.lastUpdated ?? '';
  if (la === lb) return 0;
  const ta = instantMs(la);
  const tb = instantMs(lb);
  if (ta === undefined || tb === undefined) return la > lb ? 1 : -1;
  return ta === tb ? 0 : ta > tb ? 1 : -1;
}

/** A FHIR instant (`meta.lastUpdated`: to the second, with a time zone) in milliseconds; undefined otherwise. */
function instantMs(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}
