/**
 * Idempotent feedback: a CDS client that resends a feedback entry (retry after a timeout or a
 * 503) must not count the clinician's decision twice. Each stored entry carries a key derived
 * from what identifies the decision, and the database keeps the key unique
 * (`INSERT … ON CONFLICT (dedupe_key) DO NOTHING`).
 */
import { createHash } from 'node:crypto';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';

/**
 * What identifies one feedback decision: service, card uuid, outcome, outcome time (as an
 * instant, so `…00Z` and `…00.000+00:00` are the same), accepted suggestion ids (as a set) and the
 * override reason coding. Display text and the clinician's comment are not part of it.
 */
export interface DedupeParts {
  serviceId: string;
  card: string;
  outcome: string;
  outcomeTimestamp: string | Date;
  acceptedSuggestionIds: readonly string[];
  overrideSystem: string | null;
  overrideCode: string | null;
}

const instant = (t: string | Date): string => {
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
};

/** sha256 (hex) of the identifying fields; versioned so the recipe can change without clashes. */
export function dedupeKey(p: DedupeParts): string {
  const identity = [
    'v1',
    p.serviceId,
    p.card.toLowerCase(),
    p.outcome,
    instant(p.outcomeTimestamp),
    [...p.acceptedSuggestionIds].sort(),
    p.overrideSystem,
    p.overrideCode,
  ];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

export function feedbackDedupeKey(serviceId: string, f: FeedbackEntry): string {
  return dedupeKey({
    serviceId,
    card: f.card,
    outcome: f.outcome,
    outcomeTimestamp: f.outcomeTimestamp,
    acceptedSuggestionIds: f.acceptedSuggestions?.map((s) => s.id) ?? [],
    overrideSystem: f.overrideReason?.reason?.system ?? null,
    overrideCode: f.overrideReason?.reason?.code ?? null,
  });
}

/** A feedback row stored before dedupe keys existed (or by an older instance during a rollout). */
export interface UnkeyedFeedbackRow {
  id: number | string;
  service_id: string;
  card_uuid: string;
  outcome: string;
  accepted_suggestions: string | null;
  override_system: string | null;
  override_code: string | null;
  outcome_timestamp: string | Date;
}

export function rowDedupeKey(r: UnkeyedFeedbackRow): string {
  let ids: string[] = [];
  try {
    const parsed: unknown = r.accepted_suggestions ? JSON.parse(r.accepted_suggestions) : [];
    if (Array.isArray(parsed)) ids = parsed.map(String);
  } catch {
    // Not JSON (written by hand?): the row still gets a key, it just will not match a resend.
  }
  return dedupeKey({
    serviceId: r.service_id,
    card: r.card_uuid,
    outcome: r.outcome,
    outcomeTimestamp: r.outcome_timestamp,
    acceptedSuggestionIds: ids,
    overrideSystem: r.override_system,
    overrideCode: r.override_code,
  });
}

/**
 * Keys for rows stored without one, in id order. Duplicates that were already stored are kept
 * (they were acknowledged, and deleting reported data is not a migration's call): the first keeps
 * the plain key, so a later resend of it is recognised; each later copy gets `<key>:dup:<id>`,
 * which keeps the unique index creatable. `taken` holds keys already present in the table.
 */
export function backfillKeys(
  rows: readonly UnkeyedFeedbackRow[],
  taken: ReadonlySet<string>,
): { id: number | string; key: string }[] {
  const used = new Set(taken);
  return [...rows]
    .sort((a, b) => Number(a.id) - Number(b.id))
    .map((r) => {
      const plain = rowDedupeKey(r);
      const key = used.has(plain) ? `${plain}:dup:${String(r.id)}` : plain;
      used.add(key);
      return { id: r.id, key };
    });
}
