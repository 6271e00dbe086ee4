-- Up Migration
-- The CDS client JWT `jti`s seen, shared by every replica: a token replayed to another replica is
-- refused. key = sha256(iss NUL jti), so a row has a fixed size whatever the client sends. Rows
-- live until the token expires (plus the clock tolerance); expired rows are deleted in batches.
CREATE TABLE jwt_replay (
  key TEXT PRIMARY KEY,
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX jwt_replay_expires ON jwt_replay (expires_at);
