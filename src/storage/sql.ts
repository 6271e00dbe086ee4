/**
 * The feedback schema and the queries both SQLite and PostgreSQL run. SQLite creates its tables
 * from schemaSql on start-up; PostgreSQL's schema is versioned in migrations/ (the first migration
 * is this schema, with BIGSERIAL and TIMESTAMPTZ). Feedback joins issued cards by card uuid (card
 * kind).
 */
export function schemaSql(types: { id: string; timestamp: string }): string {
  return `
    CREATE TABLE IF NOT EXISTS issued_cards (
      card_uuid TEXT PRIMARY KEY,
      service_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      indicator TEXT NOT NULL,
      first_issued_at ${types.timestamp} NOT NULL,
      last_issued_at ${types.timestamp} NOT NULL,
      times_issued INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE IF NOT EXISTS feedback (
      id ${types.id},
      service_id TEXT NOT NULL,
      card_uuid TEXT NOT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
      accepted_suggestions TEXT,
      override_system TEXT,
      override_code TEXT,
      override_display TEXT,
      user_comment TEXT,
      outcome_timestamp ${types.timestamp} NOT NULL,
      received_at ${types.timestamp} NOT NULL,
      dedupe_key TEXT
    );
    CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid);`;
}

/**
 * Upgrade of a feedback table created before dedupe keys (run after schemaSql, once the column
 * exists and every row has a key, see dedupe.ts backfillKeys). NULL keys stay allowed: an older
 * instance still running during a rollout inserts without one; the next start keys those rows.
 */
export const FEEDBACK_DEDUPE_INDEX_SQL = 'CREATE UNIQUE INDEX IF NOT EXISTS feedback_dedupe ON feedback (dedupe_key)';
export const UNKEYED_FEEDBACK_SQL = `
  SELECT id, service_id, card_uuid, outcome, accepted_suggestions, override_system, override_code, outcome_timestamp
  FROM feedback WHERE dedupe_key IS NULL ORDER BY id`;

/** `?` for SQLite, `$n` for PostgreSQL (n from 1). */
export type Placeholder = (position: number) => string;
export const SQLITE_PARAM: Placeholder = () => '?';
export const POSTGRES_PARAM: Placeholder = (n) => `$${n}`;

const rowsOf = (p: Placeholder, rows: number, width: number): string =>
  Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: width }, (_v, i) => p(r * width + i + 1)).join(', ')})`,
  ).join(',\n    ');

/** Parameters per row of upsertCardsSql. */
export const CARD_COLUMNS = 7;

/**
 * Values per row: card uuid, service id, kind, indicator, first issued at, last issued at, times
 * issued. A card uuid may appear only once per statement (see cardRows in feedback-store.ts).
 */
export const upsertCardsSql = (p: Placeholder, rows = 1): string => `
  INSERT INTO issued_cards (card_uuid, service_id, kind, indicator, first_issued_at, last_issued_at, times_issued)
  VALUES ${rowsOf(p, rows, CARD_COLUMNS)}
  ON CONFLICT (card_uuid) DO UPDATE SET last_issued_at = excluded.last_issued_at, times_issued = issued_cards.times_issued + excluded.times_issued`;

/** Parameters per row of insertFeedbackSql. */
export const FEEDBACK_COLUMNS = 11;

/** Values per row: those of feedbackValues(), in its order. An entry already stored is skipped. */
export const insertFeedbackSql = (p: Placeholder, rows = 1): string => `
  INSERT INTO feedback (service_id, card_uuid, outcome, accepted_suggestions, override_system, override_code, override_display, user_comment, outcome_timestamp, received_at, dedupe_key)
  VALUES ${rowsOf(p, rows, FEEDBACK_COLUMNS)}
  ON CONFLICT (dedupe_key) DO NOTHING`;

export const SUMMARY_SQL = {
  issued: `
    SELECT service_id, kind, COUNT(*) AS cards, SUM(times_issued) AS times
    FROM issued_cards GROUP BY service_id, kind`,
  outcomes: `
    SELECT f.service_id, COALESCE(c.kind, 'unknown') AS kind, f.outcome, COUNT(*) AS n
    FROM feedback f LEFT JOIN issued_cards c ON c.card_uuid = f.card_uuid
    GROUP BY f.service_id, COALESCE(c.kind, 'unknown'), f.outcome`,
  reasons: `
    SELECT f.service_id, COALESCE(c.kind, 'unknown') AS kind, f.override_system AS system, f.override_code AS code,
           MAX(f.override_display) AS display, COUNT(*) AS n
    FROM feedback f LEFT JOIN issued_cards c ON c.card_uuid = f.card_uuid
    WHERE f.outcome = 'overridden'
    GROUP BY f.service_id, COALESCE(c.kind, 'unknown'), f.override_system, f.override_code
    ORDER BY n DESC, code ASC`,
} as const;
