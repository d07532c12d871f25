-- Campaign pages, conversions and support reports (issue 4).

-- One row per campaign page: the draft and the published revision, each with its access
-- level. The public routes only ever read the published columns.
CREATE TABLE IF NOT EXISTS campaign_pages (
  handle TEXT NOT NULL,
  campaign TEXT NOT NULL,
  state TEXT NOT NULL,            -- JSON of api::pages::PageState
  revision INTEGER NOT NULL,      -- save counter, bumped by every PUT and publish (compare-and-swap)
  updated_at TEXT NOT NULL,
  PRIMARY KEY (handle, campaign)
);

-- Conversions tied to a campaign variant by a ctx token. The unique key makes a retried or
-- concurrent duplicate a no-op: a key is counted once, whatever happens.
CREATE TABLE IF NOT EXISTS conversions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  handle TEXT NOT NULL,
  campaign TEXT NOT NULL,
  variant TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  event TEXT NOT NULL,
  value REAL,
  currency TEXT,
  metadata TEXT,
  is_test INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (handle, idempotency_key)
);
CREATE INDEX IF NOT EXISTS conversions_by_campaign ON conversions (handle, campaign, variant, is_test);

-- End-user escalations (POST /v2/support/report).
CREATE TABLE IF NOT EXISTS support_reports (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  summary TEXT NOT NULL,
  details TEXT NOT NULL,
  handle TEXT,
  session_id TEXT,
  request_id TEXT,
  repro_artifact TEXT,
  client_ip_hash TEXT
);
