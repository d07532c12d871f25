//! Campaign health (`GET /v2/handles/{handle}/campaigns/{id}/health`): the checks to run
//! before ramping spend, each `pass`, `warn` or `fail` with a reason in words; the
//! campaign's status is its worst check.
//!
//! **fail** means visitors or measurements are broken now (no variant is assigned, a
//! variant is never reached, conversions cannot be attributed, the page is not what the
//! funnel needs); **warn** means it works but is unfinished or unverified (draft or
//! paused, no end date, not started, a single variant, no rule routing to it, no test
//! conversion yet, unpublished page changes). `sample_ratio` passes, saying so, while it
//! does not apply yet (no exposures, one variant).
//!
//! | id | fail | warn |
//! |---|---|---|
//! | `status` | canceled or completed | draft or paused |
//! | `dates` | start not before end | no end date, not started yet, ended |
//! | `weights` | no variants, sum not 100 | one variant, a weight of 0 |
//! | `variant_destinations` | a variant's destination not routable | |
//! | `routing` | | no enabled rule routes to it |
//! | `traffic_tags` | no template, or a required tag not set | a tag that depends on the visitor's country or the ctx |
//! | `ctx_token` | a template without `{ctx}` (conversions cannot be recorded) | |
//! | `campaign_page` | no page, draft only, published with another access level | published, with unpublished changes |
//! | `test_conversions` | | a variant without a test conversion |
//! | `sample_ratio` | exposed visitors do not match the weights (chi-square p < 0.001) | |
//!
//! The template of the campaign's traffic is the one the router applies to an assigned
//! variant: the campaign's, else (per rule routing to it and entry) the rule's, the
//! entry's, or the handle's default. A tag set by every variant's destination URL counts
//! as set.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::analysis::results::ExposureRow;
use crate::engine::ruleset::RuleSet;
use crate::model::config::routed_by;
use crate::model::config::{CampaignDoc, HandleConfig};
use crate::model::lifecycle::CampaignStatus;
use crate::model::lifecycle::{parse_date, status_at};
use crate::model::page::{AccessLevel, PageRevision, PageState};

mod srm;
mod tags;
#[cfg(test)]
mod tests;

/// A check's verdict; the order is from best to worst.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Works, but look at it.
    Warn,
    /// Broken.
    Fail,
}

/// One check.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable id, e.g. `traffic_tags`.
    pub id: &'static str,
    /// Verdict.
    pub status: CheckStatus,
    /// Why, in words.
    pub reason: String,
    /// Machine-readable detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// A campaign's health.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// Campaign id.
    pub campaign: String,
    /// The worst check.
    pub status: CheckStatus,
    /// The campaign's effective status.
    pub campaign_status: CampaignStatus,
    /// When the checks ran (RFC 3339).
    pub checked_at: String,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

impl Health {
    /// A check by id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

fn check(id: &'static str, status: CheckStatus, reason: impl Into<String>) -> Check {
    Check {
        id,
        status,
        reason: reason.into(),
        details: None,
    }
}

/// Runs every check on campaign `id` of `config` (compiled as `ruleset`) at `now`, with
/// its page (if any), its test conversions per variant and its exposed visitors per
/// variant. `None` for an unknown campaign.
pub fn health(
    config: &HandleConfig,
    ruleset: &RuleSet,
    id: &str,
    now: DateTime<Utc>,
    page: Option<&PageState>,
    test_conversions: &BTreeMap<String, u64>,
    exposures: &[ExposureRow],
) -> Option<Health> {
    let doc = config.campaigns.iter().find(|c| c.id == id)?;
    let uses = tags::template_uses(config, doc);
    let checks = vec![
        status_check(doc, now),
        dates(doc, now),
        weights(doc),
        destinations(ruleset, doc),
        routing(config, doc),
        tags::traffic_tags(config, doc, &uses),
        tags::ctx_token(config, &uses),
        campaign_page(page),
        tests_recorded(doc, test_conversions),
        srm::sample_ratio_check(doc, exposures),
    ];
    Some(Health {
        campaign: doc.id.clone(),
        status: checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Pass),
        campaign_status: status_at(doc, now),
        checked_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        checks,
    })
}

fn status_check(doc: &CampaignDoc, now: DateTime<Utc>) -> Check {
    use CheckStatus::*;
    let status = status_at(doc, now);
    let (verdict, reason) = match status {
        CampaignStatus::Active => (Pass, "active: it assigns variants".to_owned()),
        CampaignStatus::Draft => (
            Warn,
            "draft: it assigns no variants until activated (POST .../activate)".to_owned(),
        ),
        CampaignStatus::Paused => (
            Warn,
            "paused: visitors get the rule's own destination until it is resumed".to_owned(),
        ),
        CampaignStatus::Canceled => (
            Fail,
            "canceled: a terminal state; it will never assign variants again".to_owned(),
        ),
        CampaignStatus::Completed => (
            Fail,
            format!(
                "completed: its end_date {} has passed; it assigns no variants any more",
                doc.end_date.as_deref().unwrap_or("?")
            ),
        ),
    };
    Check {
        details: Some(json!({"status": status, "stored_status": doc.status})),
        ..check("status", verdict, reason)
    }
}

fn dates(doc: &CampaignDoc, now: DateTime<Utc>) -> Check {
    use CheckStatus::*;
    let start = parse_date(doc.start_date.as_deref());
    let end = parse_date(doc.end_date.as_deref());
    let mut findings: Vec<(CheckStatus, String)> = Vec::new();
    for (name, raw, parsed) in [
        ("start_date", &doc.start_date, start),
        ("end_date", &doc.end_date, end),
    ] {
        if let (Some(raw), None) = (raw, parsed) {
            findings.push((Fail, format!("{name} {raw:?} is not an RFC 3339 time")));
        }
    }
    match (start, end) {
        (Some(s), Some(e)) if s >= e => {
            findings.push((Fail, "end_date is not after start_date".into()));
        }
        _ => {}
    }
    match end {
        None if doc.end_date.is_none() => findings.push((
            Warn,
            "no end_date: it runs until canceled and never completes".into(),
        )),
        Some(e) if e <= now => findings.push((Warn, format!("it ended at {}", fmt(e)))),
        _ => {}
    }
    if let Some(s) = start.filter(|s| now < *s) {
        findings.push((
            Warn,
            format!("not started: it assigns variants from {}", fmt(s)),
        ));
    }
    let details = json!({"start_date": doc.start_date, "end_date": doc.end_date});
    let verdict = findings.iter().map(|f| f.0).max().unwrap_or(Pass);
    let reason = if findings.is_empty() {
        let from = start.map_or_else(|| "its activation".to_owned(), fmt);
        format!(
            "runs from {from} until {}",
            end.map_or_else(String::new, fmt)
        )
    } else {
        findings
            .into_iter()
            .map(|f| f.1)
            .collect::<Vec<_>>()
            .join("; ")
    };
    Check {
        details: Some(details),
        ..check("dates", verdict, reason)
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn weights(doc: &CampaignDoc) -> Check {
    use CheckStatus::*;
    let total: u32 = doc.variants.iter().map(|v| u32::from(v.weight)).sum();
    let split: Vec<String> = doc
        .variants
        .iter()
        .map(|v| format!("{} {}", v.key, v.weight))
        .collect();
    let zero: Vec<&str> = doc
        .variants
        .iter()
        .filter(|v| v.weight == 0)
        .map(|v| v.key.as_str())
        .collect();
    let (verdict, reason) = if doc.variants.is_empty() {
        (Fail, "no variants".to_owned())
    } else if total != 100 {
        (
            Fail,
            format!("weights sum to {total}, not 100 ({})", split.join(", ")),
        )
    } else if let [only] = doc.variants.as_slice() {
        (
            Warn,
            format!("one variant ({}) is not an A/B test", only.key),
        )
    } else if !zero.is_empty() {
        (
            Warn,
            format!("weight 0: {} never gets traffic", zero.join(", ")),
        )
    } else {
        (
            Pass,
            format!("{} variants: {}", doc.variants.len(), split.join(", ")),
        )
    };
    Check {
        details: Some(json!({"total": total, "variants": doc.variants.len()})),
        ..check("weights", verdict, reason)
    }
}

fn destinations(ruleset: &RuleSet, doc: &CampaignDoc) -> Check {
    let Some(campaign) = ruleset.campaign(&doc.id) else {
        return check(
            "variant_destinations",
            CheckStatus::Fail,
            "the campaign is not in the compiled rule set; save the configuration again",
        );
    };
    let mut details = Vec::new();
    let mut bad = Vec::new();
    for v in &campaign.variants {
        let reason = v.target.routable(ruleset.allowlist()).err();
        if let Some(reason) = &reason {
            bad.push(format!("{} ({}): {reason}", v.key, v.target.as_str()));
        }
        details.push(
            json!({"variant": v.key, "destination": v.target.as_str(), "routable": reason.is_none(),
            "not_routable": reason, "reason": reason.as_ref().map(ToString::to_string)}),
        );
    }
    let (verdict, reason) = if bad.is_empty() {
        (
            CheckStatus::Pass,
            format!(
                "every variant's destination is routable ({})",
                campaign.variants.len()
            ),
        )
    } else {
        (CheckStatus::Fail, format!("not routable, so visitors assigned to it get the rule's own destination or the entry's default: {}", bad.join("; ")))
    };
    Check {
        details: Some(Value::Array(details)),
        ..check("variant_destinations", verdict, reason)
    }
}

fn routing(config: &HandleConfig, doc: &CampaignDoc) -> Check {
    let rules = routed_by(config, &doc.id);
    let disabled: Vec<&str> = config
        .rules
        .iter()
        .filter(|r| !r.enabled && r.campaign.as_deref() == Some(doc.id.as_str()))
        .map(|r| r.id.as_str())
        .collect();
    let details = json!({"rules": rules, "disabled_rules": disabled});
    let c = if rules.is_empty() {
        let also = if disabled.is_empty() {
            String::new()
        } else {
            format!(" (disabled: {})", disabled.join(", "))
        };
        check(
            "routing",
            CheckStatus::Warn,
            format!("no enabled rule routes to this campaign, so it gets no traffic{also}"),
        )
    } else {
        check(
            "routing",
            CheckStatus::Pass,
            format!("routed by {}", rules.join(", ")),
        )
    };
    Check {
        details: Some(details),
        ..c
    }
}

fn campaign_page(page: Option<&PageState>) -> Check {
    use CheckStatus::*;
    let need = AccessLevel::FreeWithLogin.as_str();
    let state = page.cloned().unwrap_or_default();
    let (verdict, reason) = match (&state.draft, &state.published) {
        (None, None) => (Fail, format!("no campaign page: PUT one and publish it with {need}")),
        (Some(d), None) => (Fail, format!("the page has a draft (revision {}) but was never published; publish it with {need}", d.revision)),
        (_, Some(p)) if p.access_level != AccessLevel::FreeWithLogin => {
            let hint = match &state.draft {
                Some(d) if d.access_level == AccessLevel::FreeWithLogin && d.revision > p.revision => "; the draft has it: publish the draft".to_owned(),
                _ => format!("; PUT it with {need} and publish"),
            };
            (Fail, format!("the published page (revision {}) is {}, not {need}{hint}", p.revision, p.access_level.as_str()))
        }
        (Some(d), Some(p)) if d.revision > p.revision => (Warn, format!("published with {need} (revision {}), but the draft (revision {}) has unpublished changes", p.revision, d.revision)),
        (_, Some(p)) => (Pass, format!("published with {need} (revision {})", p.revision)),
    };
    let rev = |r: &Option<PageRevision>| {
        r.as_ref()
            .map(|r| json!({"revision": r.revision, "access_level": r.access_level}))
    };
    Check {
        details: Some(json!({"draft": rev(&state.draft), "published": rev(&state.published)})),
        ..check("campaign_page", verdict, reason)
    }
}

fn tests_recorded(doc: &CampaignDoc, counts: &BTreeMap<String, u64>) -> Check {
    let count = |key: &str| counts.get(key).copied().unwrap_or(0);
    let missing: Vec<&str> = doc
        .variants
        .iter()
        .map(|v| v.key.as_str())
        .filter(|k| count(k) == 0)
        .collect();
    let details: BTreeMap<&str, u64> = doc
        .variants
        .iter()
        .map(|v| (v.key.as_str(), count(&v.key)))
        .collect();
    let c = if missing.is_empty() {
        check(
            "test_conversions",
            CheckStatus::Pass,
            "every variant has a test conversion",
        )
    } else {
        check("test_conversions", CheckStatus::Warn, format!("no test conversion recorded for {}; POST .../test-conversion with {{\"variant\": ...}} for each", missing.join(", ")))
    };
    Check {
        details: Some(json!({"per_variant": details, "missing": missing})),
        ..c
    }
}
