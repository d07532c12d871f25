//! The `sample_ratio` check: does the split of exposed visitors match the configured
//! weights? The chi-square test of the results ([`crate::analysis::significance::sample_ratio`]),
//! read as a health check:
//!
//! - **fail**: flagged (p < 0.001, or visitors exposed to a variant of weight 0):
//!   assignment or exposure recording is broken, and no result of the campaign can be
//!   trusted until that is explained;
//! - **pass**: the split matches the weights; or the test does not apply yet (no
//!   exposures, one variant, weights summing to 0), with that reason and
//!   `details.applicable: false`.

use serde_json::json;

use super::{check, Check, CheckStatus};
use crate::analysis::results::ExposureRow;
use crate::analysis::significance::{sample_ratio, SRM_THRESHOLD};
use crate::model::config::CampaignDoc;

/// The check over the campaign's exposed visitors per variant (rows of a variant add up).
pub(super) fn sample_ratio_check(doc: &CampaignDoc, exposures: &[ExposureRow]) -> Check {
    let exposed = |key: &str| -> u64 {
        exposures
            .iter()
            .filter(|r| r.variant == key)
            .map(|r| r.exposed_visitors)
            .sum()
    };
    let split: Vec<(u64, u8)> = doc
        .variants
        .iter()
        .map(|v| (exposed(&v.key), v.weight))
        .collect();
    let observed: Vec<String> = doc
        .variants
        .iter()
        .zip(&split)
        .map(|(v, (seen, weight))| format!("{} {seen} (weight {weight})", v.key))
        .collect();
    let test = sample_ratio(&split);
    let (status, reason) = match (test.flagged, test.p_value, test.reason) {
        (true, p, why) => (
            CheckStatus::Fail,
            format!(
                "sample-ratio mismatch: exposed visitors {} do not match the weights ({}); \
                 assignment or exposure recording is broken (bots, redirects that lose \
                 visitors, a variant that fails), so its results cannot be trusted",
                observed.join(", "),
                match (p, why) {
                    (_, Some(why)) => why.describe().to_owned(),
                    (Some(p), None) => format!("p = {p:.3e} < {SRM_THRESHOLD}"),
                    (None, None) => "flagged".to_owned(),
                }
            ),
        ),
        (false, _, Some(why)) => (
            CheckStatus::Pass,
            format!("not applicable yet: {}", why.describe()),
        ),
        (false, p, None) => (
            CheckStatus::Pass,
            format!(
                "the split matches the weights: {} (p = {:.3})",
                observed.join(", "),
                p.unwrap_or(1.0)
            ),
        ),
    };
    let details = json!({
        "applicable": test.p_value.is_some(),
        "p_value": test.p_value,
        "chi_square": test.chi_square,
        "degrees_of_freedom": test.degrees_of_freedom,
        "threshold": SRM_THRESHOLD,
        "flagged": test.flagged,
        "observed": doc
            .variants
            .iter()
            .zip(&split)
            .map(|(v, (seen, _))| (v.key.clone(), json!(seen)))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
        "reason": test.reason,
    });
    Check {
        details: Some(details),
        ..check("sample_ratio", status, reason)
    }
}
