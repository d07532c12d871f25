//! Promoting a campaign's winner (`POST .../campaigns/{id}/promote`, admin): the campaign
//! is completed and every rule that routes to it gets the chosen variant's destination
//! as its own plain destination instead of the campaign. It is one configuration write,
//! so the change history records it and a restore of the version before undoes it.
//!
//! Decisions:
//! - An **active, paused or completed** campaign (its effective status: one whose end
//!   date has passed reads as completed, and that is when a test is usually read and its
//!   winner promoted) can be promoted; a draft or canceled one, or a completed one no
//!   rule routes to any more (promoted already), is 409 `invalid_transition`.
//! - An unknown variant key is 404 `variant_not_found`.
//! - The variant's destination must be **routable now** (verified and approved on the
//!   allowlist); otherwise 422 `validation_failed` with `unroutable_destination` at
//!   `$.variant`, and nothing changes: promoting never routes traffic off the allowlist.
//! - Rules keep everything else (conditions, priority, template, enabled); disabled rules
//!   that name the campaign are rerouted too, so none is left pointing at a completed
//!   campaign.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::CampaignError;
use crate::api::documents::Edit;
use crate::api::error::{ApiError, Missing};
use crate::engine::compile::compile;
use crate::model::config::HandleConfig;
use crate::model::diag::{Diagnostic, Severity};
use crate::model::lifecycle::{status_at, CampaignStatus};

/// Body of `POST /v2/handles/{handle}/campaigns/{campaignId}/promote`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The key of the variant whose destination the campaign's rules take.
    pub variant: String,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// The campaign's effective status before.
    pub from: CampaignStatus,
    /// The variant's destination, now the rules' own.
    pub destination: String,
    /// The rules rerouted, in declaration order.
    pub rules: Vec<String>,
}

/// Completes campaign `id` and routes its rules to `variant`'s destination.
///
/// # Errors
/// 404 `campaign_not_found` / `variant_not_found`; 409 `invalid_transition` for a
/// draft or canceled campaign; 422 `validation_failed` when the variant's
/// destination is not routable.
pub fn promote_campaign(
    config: &mut HandleConfig,
    id: &str,
    variant: &str,
    now: DateTime<Utc>,
) -> Result<Edit<Promoted>, ApiError> {
    let doc = config
        .campaigns
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| CampaignError::NotFound(id.to_owned()))?;
    let from = status_at(doc, now);
    if !matches!(
        from,
        CampaignStatus::Active | CampaignStatus::Paused | CampaignStatus::Completed
    ) {
        return Err(CampaignError::InvalidTransition(format!(
            "cannot promote a campaign that is {from}; only an active, paused or completed campaign can be promoted"
        ))
        .into());
    }
    if from == CampaignStatus::Completed
        && !config
            .rules
            .iter()
            .any(|r| r.campaign.as_deref() == Some(id))
    {
        return Err(CampaignError::InvalidTransition(format!(
            "campaign {id} is completed and no rule routes to it any more (already promoted?)"
        ))
        .into());
    }
    let destination = doc
        .variants
        .iter()
        .find(|v| v.key == variant)
        .map(|v| v.destination.clone())
        .ok_or_else(|| ApiError::not_found(Missing::Variant, variant))?;
    if let Err(why) = routable(config, &destination) {
        return Err(ApiError::Validation(vec![Diagnostic {
            severity: Severity::Error,
            code: "unroutable_destination",
            path: "$.variant".into(),
            id: Some(variant.to_owned()),
            message: format!(
                "the destination of variant {variant:?}, {destination}, is not routable ({why}); promoting would send no visitor there"
            ),
        }]));
    }
    let mut rules = Vec::new();
    for rule in config
        .rules
        .iter_mut()
        .filter(|r| r.campaign.as_deref() == Some(id))
    {
        rule.campaign = None;
        rule.destination = Some(destination.clone());
        rules.push(rule.id.clone());
    }
    if let Some(doc) = config.campaigns.iter_mut().find(|c| c.id == id) {
        doc.status = CampaignStatus::Completed;
    }
    Ok(Edit::whole(Promoted {
        from,
        destination,
        rules,
    }))
}

/// Whether `destination` is routable on the configuration's allowlist now.
fn routable(config: &HandleConfig, destination: &str) -> Result<(), String> {
    let compiled = compile(config).map_err(|e| e.to_string())?;
    let url = Url::parse(destination.trim()).map_err(|e| e.to_string())?;
    compiled
        .ruleset
        .allowlist()
        .check_url(&url)
        .map_err(|e| e.to_string())
}
