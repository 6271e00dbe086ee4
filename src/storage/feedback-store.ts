/**
 * Durable storage of issued cards and CDS Hooks feedback, for alert-fatigue reports.
 *
 * Only what the reports need is kept: card uuid, service, card kind, indicator, outcome, accepted
 * suggestion ids, override reason and the clinician's comment. No patient identifier is stored.
 */
import type { FeedbackSink } from '../cds-hooks/sinks.js';
import type { IssuedCard } from '../shared/card-kind.js';
import type { FeedbackEntry } from '../cds-hooks/schemas.js';
import { feedbackDedupeKey } from './dedupe.js';

export interface OverrideReasonCount {
  system: string | null;
  code: string | null;
  display: string | null;
  count: number;
}

export interface KindSummary {
  serviceId: string;
  cardKind: string;
  /** Distinct cards issued, and how many times they were issued in all. */
  cardsIssued: number;
  timesIssued: number;
  accepted: number;
  overridden: number;
  /** accepted / (accepted + overridden), null without feedback. */
  acceptanceRate: number | null;
  topOverrideReasons: OverrideReasonCount[];
}

export interface FeedbackSummary {
  generatedAt: string;
  storage: 'sqlite' | 'postgres';
  totals: { cardsIssued: number; feedback: number; accepted: number; overridden: number };
  byServiceAndKind: KindSummary[];
}

/** Time limits shared by both stores (STORAGE_TIMEOUT_MS). */
export interface StoreTimeouts {
  /** Every write and ping, start to end (PostgreSQL: connect, BEGIN … COMMIT). Default 2000 ms. */
  timeoutMs?: number | undefined;
  /** Start-up schema creation and upgrade. Default max(30 s, timeoutMs). */
  initTimeoutMs?: number | undefined;
  /** The admin summary (aggregates over all feedback). Default 5 × timeoutMs. */
  summaryTimeoutMs?: number | undefined;
}

/** Cards issued by one service call. */
export interface CardBatch {
  serviceId: string;
  cards: IssuedCard[];
  issuedAt: Date;
}

/** What a feedback write did: every entry is either newly stored or was stored before. */
export interface FeedbackWriteResult {
  inserted: number;
  alreadyStored: number;
}

export interface FeedbackStore extends FeedbackSink {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates the schema if needed and upgrades an older one; safe to call on every start. */
  init(): Promise<void>;
  /**
   * Stores feedback in one transaction. Idempotent: an entry already stored (same dedupe key, see
   * dedupe.ts) is acknowledged, not added again. recordFeedback (FeedbackSink) does the same
   * without the counts.
   */
  storeFeedback(serviceId: string, entries: FeedbackEntry[], receivedAt: Date): Promise<FeedbackWriteResult>;
  /** Several service calls' cards in one transaction (CardRecorder drains its queue this way). */
  recordCardBatches(batches: readonly CardBatch[]): Promise<void>;
  summary(now: Date): Promise<FeedbackSummary>;
  /** True when the store answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Row shapes shared by both implementations. */
export interface SummaryRows {
  issued: { service_id: string; kind: string; cards: number; times: number }[];
  outcomes: { service_id: string; kind: string; outcome: string; n: number }[];
  reasons: {
    service_id: string;
    kind: string;
    system: string | null;
    code: string | null;
    display: string | null;
    n: number;
  }[];
}

export const TOP_REASONS = 5;

/** Builds the summary from the three aggregate queries both databases run. */
export function buildSummary(rows: SummaryRows, storage: FeedbackSummary['storage'], now: Date): FeedbackSummary {
  const key = (s: string, k: string): string => `${s}\u0000${k}`;
  const byKey = new Map<string, KindSummary>();
  const entry = (serviceId: string, cardKind: string): KindSummary => {
    let e = byKey.get(key(serviceId, cardKind));
    if (!e) {
      e = {
        serviceId,
        cardKind,
        cardsIssued: 0,
        timesIssued: 0,
        accepted: 0,
        overridden: 0,
        acceptanceRate: null,
        topOverrideReasons: [],
      };
      byKey.set(key(serviceId, cardKind), e);
    }
    return e;
  };
  for (const r of rows.issued)
    Object.assign(entry(r.service_id, r.kind), { cardsIssued: Number(r.cards), timesIssued: Number(r.times) });
  for (const r of rows.outcomes) {
    const e = entry(r.service_id, r.kind);
    if (r.outcome === 'accepted') e.accepted = Number(r.n);
    if (r.outcome === 'overridden') e.overridden = Number(r.n);
  }
  for (const r of rows.reasons) {
    const e = entry(r.service_id, r.kind);
    if (e.topOverrideReasons.length < TOP_REASONS)
      e.topOverrideReasons.push({ system: r.system, code: r.code, display: r.display, count: Number(r.n) });
  }
  const list = [...byKey.values()].sort(
    (a, b) => a.serviceId.localeCompare(b.serviceId) || a.cardKind.localeCompare(b.cardKind),
  );
  for (const e of list)
    e.acceptanceRate =
      e.accepted + e.overridden > 0 ? Math.round((e.accepted / (e.accepted + e.overridden)) * 1000) / 1000 : null;
  return {
    generatedAt: now.toISOString(),
    storage,
    totals: {
      cardsIssued: list.reduce((n, e) => n + e.cardsIssued, 0),
      feedback: list.reduce((n, e) => n + e.accepted + e.overridden, 0),
      accepted: list.reduce((n, e) => n + e.accepted, 0),
      overridden: list.reduce((n, e) => n + e.overridden, 0),
    },
    byServiceAndKind: list,
  };
}

/** The values of one feedback entry, in the column order of insertFeedbackSql. */
export function feedbackValues(serviceId: string, f: FeedbackEntry, received: string): (string | null)[] {
  return [
    serviceId,
    f.card,
    f.outcome,
    f.acceptedSuggestions ? JSON.stringify(f.acceptedSuggestions.map((s) => s.id)) : null,
    f.overrideReason?.reason?.system ?? null,
    f.overrideReason?.reason?.code ?? null,
    f.overrideReason?.reason?.display ?? null,
    f.overrideReason?.userComment ?? null,
    f.outcomeTimestamp,
    received,
    feedbackDedupeKey(serviceId, f),
  ];
}

/**
 * One row per card uuid over the batches, in the column order of upsertCardsSql: the same
 * situation re-issued while queued is counted, and an upsert statement touches each row once.
 */
export function cardRows(batches: readonly CardBatch[]): (string | number)[][] {
  const rows = new Map<
    string,
    { serviceId: string; kind: string; indicator: string; first: string; last: string; times: number }
  >();
  for (const b of batches) {
    const at = b.issuedAt.toISOString();
    for (const c of b.cards) {
      const row = rows.get(c.uuid);
      if (row) {
        Object.assign(row, {
          kind: c.kind,
          indicator: c.indicator,
          last: at > row.last ? at : row.last,
          first: at < row.first ? at : row.first,
        });
        row.times += 1;
      } else {
        rows.set(c.uuid, {
          serviceId: b.serviceId,
          kind: c.kind,
          indicator: c.indicator,
          first: at,
          last: at,
          times: 1,
        });
      }
    }
  }
  return [...rows].map(([uuid, r]) => [uuid, r.serviceId, r.kind, r.indicator, r.first, r.last, r.times]);
}

/** Splits rows so a statement stays well under both databases' parameter limits. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
