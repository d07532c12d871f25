-- Exposures (issue 13): what the queue consumer (src/edge/queue.rs, src/api/exposures.rs)
-- writes, one transaction of six statements per queue batch, and what the results route
-- reads. Every write is idempotent: a redelivered batch counts nothing twice.

-- The first exposure of each visitor to a campaign, with the variant it showed. The
-- primary key makes a second insert of the same visitor a no-op.
CREATE TABLE IF NOT EXISTS exposures (
  handle TEXT NOT NULL,
  campaign TEXT NOT NULL,
  visitor_id TEXT NOT NULL,
  variant TEXT NOT NULL,
  first_at INTEGER NOT NULL,          -- the visit, Unix milliseconds
  PRIMARY KEY (handle, campaign, visitor_id)
) WITHOUT ROWID;

-- Per variant and UTC day of the visit: visits (every exposed visit, repeats included)
-- and exposed visitors (first exposures that day). Results sum the days; a campaign has
-- variants x days rows, so reading its totals reads a handful of rows.
CREATE TABLE IF NOT EXISTS exposure_daily (
  handle TEXT NOT NULL,
  campaign TEXT NOT NULL,
  variant TEXT NOT NULL,
  day TEXT NOT NULL,                  -- YYYY-MM-DD
  visits INTEGER NOT NULL,
  exposed_visitors INTEGER NOT NULL,
  PRIMARY KEY (handle, campaign, variant, day)
) WITHOUT ROWID;

-- Visit ids (the request id each message carries) already counted, so a redelivered
-- message adds no visit. Kept for EXPOSURE_DEDUPE_SECONDS (default 4 days, the queue's
-- message retention), then swept by the batch that finds them older.
CREATE TABLE IF NOT EXISTS exposure_visits (
  id TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL            -- when its batch landed, Unix milliseconds
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS exposure_visits_by_age ON exposure_visits (seen_at);

-- When the last batch with exposures of a campaign landed (the results' `as_of`).
CREATE TABLE IF NOT EXISTS exposure_batches (
  handle TEXT NOT NULL,
  campaign TEXT NOT NULL,
  landed_at INTEGER NOT NULL,         -- Unix milliseconds
  PRIMARY KEY (handle, campaign)
) WITHOUT ROWID;

-- Converting visitors (COUNT(DISTINCT visitor_id) per variant and event, real
-- conversions only) read the campaign's rows through this index.
CREATE INDEX IF NOT EXISTS conversions_by_event ON conversions (handle, campaign, is_test, variant, event, visitor_id);
