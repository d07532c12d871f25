//! Per-variant conversion figures of a campaign, built from the counts the edge reads from
//! D1 (`SELECT variant, event, is_test, COUNT(*) ... GROUP BY variant, event, is_test`).
//!
//! Test conversions are counted apart and never enter `conversions`, `by_event` or the
//! real total. Every variant of the campaign appears, with zeros when nothing was
//! recorded; rows for a variant the campaign no longer has (it was replaced) are listed
//! under `unknown_variants`, not dropped, so totals always add up to what is stored.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::config::CampaignDoc;

/// One grouped count from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    /// Variant key.
    pub variant: String,
    /// Event name.
    pub event: String,
    /// Whether these are test conversions.
    pub is_test: bool,
    /// How many.
    pub count: u64,
}

/// Figures of one variant.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VariantStats {
    /// Variant key.
    pub key: String,
    /// Real conversions (all events).
    pub conversions: u64,
    /// Test conversions (kept out of every real figure).
    pub test_conversions: u64,
    /// Real conversions by event name.
    pub by_event: BTreeMap<String, u64>,
}

/// Totals over all variants, unknown ones included.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Real conversions.
    pub conversions: u64,
    /// Test conversions.
    pub test_conversions: u64,
}

/// A campaign's conversion figures.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// The campaign's variants, in its order.
    pub variants: Vec<VariantStats>,
    /// Stored conversions of variants the campaign does not have (any more), by key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_variants: Vec<VariantStats>,
    /// Totals.
    pub total: Totals,
}

impl Stats {
    /// Test conversions per variant key (the campaign's variants only).
    pub fn test_conversions(&self) -> BTreeMap<String, u64> {
        self.variants
            .iter()
            .map(|v| (v.key.clone(), v.test_conversions))
            .collect()
    }
}

/// Builds the figures of `campaign` from grouped rows.
pub fn stats(campaign: &CampaignDoc, rows: &[StatRow]) -> Stats {
    let mut variants: Vec<VariantStats> = campaign
        .variants
        .iter()
        .map(|v| VariantStats {
            key: v.key.clone(),
            ..VariantStats::default()
        })
        .collect();
    let mut unknown: BTreeMap<String, VariantStats> = BTreeMap::new();
    let mut total = Totals::default();
    for row in rows {
        let slot = match variants.iter_mut().find(|v| v.key == row.variant) {
            Some(slot) => slot,
            None => unknown
                .entry(row.variant.clone())
                .or_insert_with(|| VariantStats {
                    key: row.variant.clone(),
                    ..VariantStats::default()
                }),
        };
        if row.is_test {
            slot.test_conversions += row.count;
            total.test_conversions += row.count;
        } else {
            slot.conversions += row.count;
            *slot.by_event.entry(row.event.clone()).or_default() += row.count;
            total.conversions += row.count;
        }
    }
    Stats {
        variants,
        unknown_variants: unknown.into_values().collect(),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::VariantDoc;

    fn row(variant: &str, event: &str, is_test: bool, count: u64) -> StatRow {
        StatRow {
            variant: variant.into(),
            event: event.into(),
            is_test,
            count,
        }
    }

    #[test]
    fn figures_per_variant_with_tests_apart() {
        let campaign = CampaignDoc {
            id: "c".into(),
            name: "c".into(),
            status: Default::default(),
            start_date: None,
            end_date: None,
            variants: ["control", "story", "quiet"]
                .map(|k| VariantDoc {
                    key: k.into(),
                    weight: 0,
                    destination: String::new(),
                })
                .to_vec(),
            traffic_tags: None,
            seed: None,
            template: None,
        };
        let rows = [
            row("control", "purchase", false, 3),
            row("control", "signup", false, 2),
            row("control", "purchase", true, 1),
            row("story", "purchase", false, 4),
            row("story", "test_conversion", true, 2),
            row("retired", "purchase", false, 5),
        ];
        let s = stats(&campaign, &rows);
        let keys: Vec<_> = s.variants.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["control", "story", "quiet"]);
        let control = &s.variants[0];
        assert_eq!((control.conversions, control.test_conversions), (5, 1));
        assert_eq!(
            control.by_event,
            BTreeMap::from([("purchase".into(), 3), ("signup".into(), 2)])
        );
        assert_eq!(
            s.variants[1].by_event,
            BTreeMap::from([("purchase".into(), 4)]),
            "test events stay out of by_event"
        );
        assert_eq!(
            s.variants[2],
            VariantStats {
                key: "quiet".into(),
                ..Default::default()
            }
        );
        assert_eq!(s.unknown_variants.len(), 1);
        assert_eq!(s.unknown_variants[0].conversions, 5);
        assert_eq!(
            s.total,
            Totals {
                conversions: 14,
                test_conversions: 3
            }
        );
        assert_eq!(
            s.test_conversions(),
            BTreeMap::from([
                ("control".into(), 1),
                ("story".into(), 2),
                ("quiet".into(), 0)
            ])
        );
    }
}
