-- The management API's store of record and its bookkeeping (see src/edge/api/db.rs).

-- One configuration document per handle; `version` is compared-and-swapped on every write
-- and equals the version of the snapshot published to KV.
CREATE TABLE IF NOT EXISTS documents (
  handle TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  config TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL
);

-- Personal access tokens, stored as SHA-256 hex of the token, never the token.
CREATE TABLE IF NOT EXISTS api_tokens (
  hash TEXT PRIMARY KEY,
  handle TEXT NOT NULL,
  scopes TEXT NOT NULL,
  sub TEXT NOT NULL,
  expires_at INTEGER,
  revoked INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);

-- Idempotency keys of writes: the first request reserves (status NULL), then stores its
-- response; rows expire after a day.
CREATE TABLE IF NOT EXISTS idempotency (
  handle TEXT NOT NULL,
  key TEXT NOT NULL,
  route TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  status INTEGER,
  response TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (handle, key)
);

-- Fixed-window counters for per-route throttles and daily write limits.
CREATE TABLE IF NOT EXISTS rate_counters (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_counters_expiry ON rate_counters (expires_at);
