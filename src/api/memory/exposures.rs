//! The [`MemoryStore`]'s exposure and results tables, with the semantics of the D1
//! statements (`src/edge/d1/exposures.rs`): a batch is applied whole or not at all.

use std::collections::BTreeMap;

use super::{MemoryStore, Tables};
use crate::analysis::results::{ConversionRow, ExposureRow};
use crate::api::exposures::{day_of, ExposureBatch, ExposureTotals, Recorded};

/// (handle, campaign, visitor) → (variant, first seen at, Unix ms).
pub type FirstExposures = BTreeMap<(String, String, String), (String, i64)>;
/// (handle, campaign, variant, day) → (visits, exposed visitors).
pub type DailyCounts = BTreeMap<(String, String, String, String), (u64, u64)>;

/// The exposure tables.
#[derive(Debug, Clone, Default)]
pub struct ExposureTables {
    /// First exposures.
    pub first: FirstExposures,
    /// Daily counts per variant.
    pub daily: DailyCounts,
    /// Visit ids counted: id → when (Unix ms).
    pub seen: BTreeMap<String, i64>,
    /// (handle, campaign) → when its last batch landed (Unix ms).
    pub landed: BTreeMap<(String, String), i64>,
}

impl MemoryStore {
    pub(super) fn write_exposures(
        tables: &mut Tables,
        batch: &ExposureBatch,
        now_ms: i64,
        forget_before_ms: i64,
    ) -> Recorded {
        let t = &mut tables.exposures;
        let mut recorded = Recorded::default();
        for v in &batch.visits {
            if t.seen.contains_key(&v.id) {
                continue;
            }
            let key = (
                v.handle.clone(),
                v.campaign.clone(),
                v.variant.clone(),
                day_of(v.at),
            );
            t.daily.entry(key).or_default().0 += 1;
            t.seen.insert(v.id.clone(), now_ms);
            recorded.visits += 1;
        }
        for f in &batch.first {
            let who = (f.handle.clone(), f.campaign.clone(), f.visitor_id.clone());
            if t.first.contains_key(&who) {
                continue;
            }
            t.first.insert(who, (f.variant.clone(), f.at));
            let key = (
                f.handle.clone(),
                f.campaign.clone(),
                f.variant.clone(),
                day_of(f.at),
            );
            t.daily.entry(key).or_default().1 += 1;
            recorded.visitors += 1;
        }
        for v in &batch.visits {
            let landed = t
                .landed
                .entry((v.handle.clone(), v.campaign.clone()))
                .or_insert(now_ms);
            *landed = (*landed).max(now_ms);
        }
        t.seen.retain(|_, seen| *seen >= forget_before_ms);
        recorded
    }

    pub(super) fn read_exposures(tables: &Tables, handle: &str, campaign: &str) -> ExposureTotals {
        let t = &tables.exposures;
        let mut rows: Vec<ExposureRow> = Vec::new();
        for ((h, c, variant, _), (visits, exposed)) in &t.daily {
            if h != handle || c != campaign {
                continue;
            }
            match rows.iter_mut().find(|r| &r.variant == variant) {
                Some(row) => {
                    row.visits += visits;
                    row.exposed_visitors += exposed;
                }
                None => rows.push(ExposureRow {
                    variant: variant.clone(),
                    exposed_visitors: *exposed,
                    visits: *visits,
                }),
            }
        }
        ExposureTotals {
            rows,
            landed_at: t
                .landed
                .get(&(handle.to_owned(), campaign.to_owned()))
                .copied(),
        }
    }

    pub(super) fn read_conversions(
        tables: &Tables,
        handle: &str,
        campaign: &str,
    ) -> Vec<ConversionRow> {
        let mut groups: BTreeMap<(String, String), (Vec<&str>, u64)> = BTreeMap::new();
        for c in tables
            .conversions
            .iter()
            .map(|c| &c.conversion)
            .filter(|c| c.handle == handle && c.campaign == campaign && !c.is_test)
        {
            let group = groups
                .entry((c.variant.clone(), c.event.clone()))
                .or_default();
            if !group.0.contains(&c.visitor_id.as_str()) {
                group.0.push(&c.visitor_id);
            }
            group.1 += 1;
        }
        groups
            .into_iter()
            .map(|((variant, event), (visitors, events))| ConversionRow {
                variant,
                event,
                converting_visitors: visitors.len() as u64,
                events,
            })
            .collect()
    }
}
