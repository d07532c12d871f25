//! The exposure and results statements on D1 (`migrations/0004_exposures.sql`): one
//! batch of six statements per queue batch, which D1 runs as one transaction, and the
//! small reads of the results route. The rows of a batch travel as one JSON parameter
//! read with `json_each`, so the statement count does not grow with the batch.

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;

use super::{faults, int, text, unavailable, D1Store};
use crate::analysis::results::{ConversionRow, ExposureRow};
use crate::api::exposures::{day_of, ExposureBatch, ExposureTotals, Recorded};
use crate::api::store::StoreError;
use crate::visit::exposure::Exposure;

/// One exposure as a JSON row of the batch parameter.
#[derive(Serialize)]
struct Row<'a> {
    k: &'a str,
    h: &'a str,
    c: &'a str,
    x: &'a str,
    vid: &'a str,
    at: i64,
    d: String,
}

fn rows(list: &[Exposure]) -> Result<JsValue, StoreError> {
    let rows: Vec<Row<'_>> = list
        .iter()
        .map(|e| Row {
            k: &e.id,
            h: &e.handle,
            c: &e.campaign,
            x: &e.variant,
            vid: &e.visitor_id,
            at: e.at,
            d: day_of(e.at),
        })
        .collect();
    serde_json::to_string(&rows)
        .map(|json| text(&json))
        .map_err(|e| StoreError::Corrupt(format!("serialising exposures: {e}")))
}

/// Each visit not seen before, counted per variant and day.
const COUNT_VISITS: &str = "INSERT INTO exposure_daily (handle, campaign, variant, day, visits, exposed_visitors) \
     SELECT json_extract(value, '$.h'), json_extract(value, '$.c'), json_extract(value, '$.x'), json_extract(value, '$.d'), COUNT(*), 0 \
     FROM json_each(?1) \
     WHERE NOT EXISTS (SELECT 1 FROM exposure_visits s WHERE s.id = json_extract(value, '$.k')) \
     GROUP BY 1, 2, 3, 4 \
     ON CONFLICT (handle, campaign, variant, day) DO UPDATE SET visits = visits + excluded.visits";

/// Each visitor without a first exposure, counted as exposed on its day.
const COUNT_VISITORS: &str = "INSERT INTO exposure_daily (handle, campaign, variant, day, visits, exposed_visitors) \
     SELECT json_extract(value, '$.h'), json_extract(value, '$.c'), json_extract(value, '$.x'), json_extract(value, '$.d'), 0, COUNT(*) \
     FROM json_each(?1) \
     WHERE NOT EXISTS (SELECT 1 FROM exposures e WHERE e.handle = json_extract(value, '$.h') \
       AND e.campaign = json_extract(value, '$.c') AND e.visitor_id = json_extract(value, '$.vid')) \
     GROUP BY 1, 2, 3, 4 \
     ON CONFLICT (handle, campaign, variant, day) DO UPDATE SET exposed_visitors = exposed_visitors + excluded.exposed_visitors";

/// The first exposures themselves (after counting them).
const FIRST_EXPOSURES: &str = "INSERT INTO exposures (handle, campaign, visitor_id, variant, first_at) \
     SELECT json_extract(value, '$.h'), json_extract(value, '$.c'), json_extract(value, '$.vid'), json_extract(value, '$.x'), json_extract(value, '$.at') \
     FROM json_each(?1) WHERE true \
     ON CONFLICT (handle, campaign, visitor_id) DO NOTHING";

/// The visit ids, remembered (after counting them).
const SEEN: &str = "INSERT INTO exposure_visits (id, seen_at) \
     SELECT json_extract(value, '$.k'), ?2 FROM json_each(?1) WHERE true \
     ON CONFLICT (id) DO NOTHING";

/// When each campaign's last batch landed.
const LANDED: &str = "INSERT INTO exposure_batches (handle, campaign, landed_at) \
     SELECT DISTINCT json_extract(value, '$.h'), json_extract(value, '$.c'), ?2 FROM json_each(?1) WHERE true \
     ON CONFLICT (handle, campaign) DO UPDATE SET landed_at = MAX(landed_at, excluded.landed_at)";

/// Visit ids past the dedupe window.
const FORGET: &str = "DELETE FROM exposure_visits WHERE seen_at < ?1";

/// [`crate::api::store::Store::record_exposures`].
pub(super) async fn record(
    store: &D1Store,
    batch: &ExposureBatch,
    now_ms: i64,
    forget_before_ms: i64,
) -> Result<Recorded, StoreError> {
    faults::d1().map_err(unavailable)?;
    let (visits, first) = (rows(&batch.visits)?, rows(&batch.first)?);
    let bind = |sql: &str, args: &[JsValue]| store.db.prepare(sql).bind(args).map_err(unavailable);
    let statements = vec![
        bind(COUNT_VISITS, std::slice::from_ref(&visits))?,
        bind(COUNT_VISITORS, std::slice::from_ref(&first))?,
        bind(FIRST_EXPOSURES, &[first])?,
        bind(SEEN, &[visits.clone(), int(now_ms)])?,
        bind(LANDED, &[visits, int(now_ms)])?,
        bind(FORGET, &[int(forget_before_ms)])?,
    ];
    let results = store.db.batch(statements).await.map_err(unavailable)?;
    let changes = |at: usize| {
        results
            .get(at)
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0) as u64
    };
    Ok(Recorded {
        visits: changes(3),
        visitors: changes(2),
    })
}

/// [`crate::api::store::Store::exposure_totals`].
pub(super) async fn totals(
    store: &D1Store,
    handle: &str,
    campaign: &str,
) -> Result<ExposureTotals, StoreError> {
    #[derive(Deserialize)]
    struct Totals {
        variant: String,
        exposed: f64,
        visits: f64,
    }
    #[derive(Deserialize)]
    struct Landed {
        landed_at: f64,
    }
    let args = [text(handle), text(campaign)];
    let sql = "SELECT variant, SUM(exposed_visitors) AS exposed, SUM(visits) AS visits \
               FROM exposure_daily WHERE handle = ?1 AND campaign = ?2 GROUP BY variant";
    let rows: Vec<Totals> = store.all(sql, &args).await?;
    let sql = "SELECT landed_at FROM exposure_batches WHERE handle = ?1 AND campaign = ?2";
    let landed: Option<Landed> = store.first(sql, &args).await?;
    Ok(ExposureTotals {
        rows: rows
            .into_iter()
            .map(|r| ExposureRow {
                variant: r.variant,
                exposed_visitors: r.exposed as u64,
                visits: r.visits as u64,
            })
            .collect(),
        landed_at: landed.map(|l| l.landed_at as i64),
    })
}

/// [`crate::api::store::Store::conversion_rows`].
pub(super) async fn conversions(
    store: &D1Store,
    handle: &str,
    campaign: &str,
) -> Result<Vec<ConversionRow>, StoreError> {
    #[derive(Deserialize)]
    struct Counts {
        variant: String,
        event: String,
        visitors: f64,
        n: f64,
    }
    let sql = "SELECT variant, event, COUNT(DISTINCT visitor_id) AS visitors, COUNT(*) AS n \
               FROM conversions WHERE handle = ?1 AND campaign = ?2 AND is_test = 0 \
               GROUP BY variant, event";
    let rows: Vec<Counts> = store.all(sql, &[text(handle), text(campaign)]).await?;
    Ok(rows
        .into_iter()
        .map(|r| ConversionRow {
            variant: r.variant,
            event: r.event,
            converting_visitors: r.visitors as u64,
            events: r.n as u64,
        })
        .collect())
}
