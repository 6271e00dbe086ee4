-- Up Migration
-- The feedback schema as the service created it before versioned migrations (src/storage/sql.ts,
-- schemaSql). IF NOT EXISTS throughout: a database created by an older release is adopted as is.
CREATE TABLE IF NOT EXISTS issued_cards (
  card_uuid TEXT PRIMARY KEY,
  service_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  indicator TEXT NOT NULL,
  first_issued_at TIMESTAMPTZ NOT NULL,
  last_issued_at TIMESTAMPTZ NOT NULL,
  times_issued INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS feedback (
  id BIGSERIAL PRIMARY KEY,
  service_id TEXT NOT NULL,
  card_uuid TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
  accepted_suggestions TEXT,
  override_system TEXT,
  override_code TEXT,
  override_display TEXT,
  user_comment TEXT,
  outcome_timestamp TIMESTAMPTZ NOT NULL,
  received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card_uuid);
ALTER TABLE feedback ADD COLUMN IF NOT EXISTS dedupe_key TEXT;
