-- The change history of each handle's configuration (src/api/history.rs): one row per
-- version written through the API or the cron re-verification, in the same D1 batch as
-- the document's compare-and-swap, with a structured diff and the whole configuration of
-- that version (so it can be restored). A `baseline` row (version_before NULL) holds a
-- configuration the history found without a recorded write (seeded, pushed straight to
-- KV, or older than this table). The last 500 versions per handle are kept.
CREATE TABLE IF NOT EXISTS changes (
  handle TEXT NOT NULL,
  version INTEGER NOT NULL,        -- the version this write made (a baseline: the version it found)
  version_before INTEGER,          -- NULL for a baseline
  at TEXT NOT NULL,
  subject TEXT NOT NULL,           -- the token subject, or cron
  route TEXT,                      -- METHOD /v2/...pattern, or cron; NULL for a baseline
  request_id TEXT,
  restored_from INTEGER,           -- the version a restore brought back
  diff TEXT,                       -- JSON of analysis::diff::ConfigDiff; NULL for a baseline
  config TEXT NOT NULL,            -- the whole configuration of `version`
  PRIMARY KEY (handle, version)
);

-- The write that stored the document's current version: the history rows of a batch are
-- inserted only when the document holds this id, i.e. when the compare-and-swap won.
ALTER TABLE documents ADD COLUMN write_id TEXT;
