-- Up Migration
-- Before this statement, src/storage/migrate.ts gives every feedback row stored without a dedupe
-- key its key (sha256 of the identifying fields, computed in TypeScript: src/storage/dedupe.ts).
-- NULL keys stay allowed: an older replica still running during a rollout inserts without one.
CREATE UNIQUE INDEX IF NOT EXISTS feedback_dedupe ON feedback (dedupe_key);
