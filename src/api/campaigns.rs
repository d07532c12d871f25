//! Campaign operations of the UC-07 routes (`GET/POST .../campaigns`, `GET
//! .../campaigns/{id}`, `POST .../campaigns/{id}/activate|pause|resume|cancel`) and the
//! view they answer with. Like [`super::ops`], every operation works on a copy of the
//! handle's configuration and the edge commits it only when it compiles.
//!
//! Decisions:
//! - **Creation** is `draft` (default) or `active`; any other `status` is 400
//!   `invalid_body` at `$.status` (the other states are reached by transitions only). The
//!   `id` is the body's, or a UUID v4 the edge generates ([`uuid_v4`]). A campaign whose
//!   `end_date` has already passed is refused (`end_date_passed`): it would be born
//!   completed and could never assign a variant. Every problem of the new campaign is
//!   reported at once as 400 `validation_failed`, paths relative to the body
//!   (`$.variants[1].destination`), by compiling the whole configuration
//!   ([`checked_campaign`]).
//! - **Transitions** apply to the *effective* status ([`crate::model::lifecycle::effective_status`]): an active
//!   campaign past its `end_date` is completed, so pausing it is 409. Activating or
//!   resuming a campaign whose `end_date` has passed is refused too (it would complete at
//!   the same instant); such a campaign can still be canceled. A refused transition is 409
//!   `invalid_transition`, naming the current state and what it allows.
//! - **Views** show `status` as the effective status (what visitors get), with the
//!   stored one as `stored_status`, whether an active campaign is still `scheduled`
//!   (start ahead), the transitions allowed now, and the enabled rules routing to it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::analysis::stats::Stats;
use crate::engine::compile::{compile, Compiled};
pub use crate::model::config::routed_by;
use crate::model::config::{CampaignDoc, HandleConfig, VariantDoc};
use crate::model::diag::{Diagnostic, Severity};
use crate::model::lifecycle::{parse_date, status_at, transition, CampaignStatus, Transition};

/// Longest campaign name accepted (characters).
pub const MAX_NAME_CHARS: usize = 200;

/// Body of `POST /v2/handles/{handle}/campaigns`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    /// The campaign id; a UUID v4 is generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Human name.
    pub name: String,
    /// `draft` (default) or `active`.
    #[serde(default)]
    pub status: Option<CampaignStatus>,
    /// When it starts assigning (RFC 3339).
    #[serde(default)]
    pub start_date: Option<String>,
    /// When it completes (RFC 3339).
    #[serde(default)]
    pub end_date: Option<String>,
    /// Variants; weights sum to 100.
    pub variants: Vec<VariantDoc>,
    /// Query parameters its tracking template must set (default: the three UTM tags).
    #[serde(default)]
    pub traffic_tags: Option<Vec<String>>,
    /// Hash seed (default: the id).
    #[serde(default)]
    pub seed: Option<String>,
    /// Tracking template for the campaign's traffic.
    #[serde(default)]
    pub template: Option<String>,
}

/// Formats 16 random bytes as a UUID version 4 (RFC 9562), lower-case and hyphenated.
pub fn uuid_v4(random: [u8; 16]) -> String {
    let mut b = random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The index of a campaign.
///
/// # Errors
/// [`ApiError::NotFound`] (`campaign_not_found`).
pub fn find_campaign(config: &HandleConfig, id: &str) -> Result<usize, ApiError> {
    config
        .campaigns
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| ApiError::NotFound {
            what: "campaign",
            id: id.to_owned(),
        })
}

/// Adds a campaign from a POST body under `id` (the body's id wins when given); returns
/// the id. Compiles the result to report every problem.
///
/// # Errors
/// [`ApiError::InvalidBody`] at `$.status` for a state other than draft or active,
/// [`ApiError::Conflict`] `campaign_exists`, [`ApiError::Validation`] with body-relative
/// paths.
pub fn create_campaign(
    config: &mut HandleConfig,
    body: CreateCampaign,
    id: String,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let status = body.status.unwrap_or_default();
    if !matches!(status, CampaignStatus::Draft | CampaignStatus::Active) {
        return Err(ApiError::InvalidBody {
            path: "$.status".into(),
            message: format!("a campaign is created draft (the default) or active, not {status}; other states are reached through pause, resume and cancel"),
        });
    }
    let id = body.id.unwrap_or(id);
    if config.campaigns.iter().any(|c| c.id == id) {
        return Err(ApiError::Conflict {
            code: "campaign_exists",
            message: format!("a campaign with the id {id:?} already exists"),
        });
    }
    let mut extra = Vec::new();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        extra.push(error(
            "invalid_name",
            "$.name",
            &id,
            format!("give a name of 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if parse_date(body.end_date.as_deref()).is_some_and(|end| end <= now) {
        extra.push(error(
            "end_date_passed",
            "$.end_date",
            &id,
            "the end_date has already passed; the campaign would be completed at once".into(),
        ));
    }
    config.campaigns.push(CampaignDoc {
        id: id.clone(),
        name,
        status,
        start_date: body.start_date,
        end_date: body.end_date,
        variants: body.variants,
        traffic_tags: body.traffic_tags,
        seed: body.seed,
        template: body.template,
    });
    let index = config.campaigns.len() - 1;
    match (checked_campaign(config, index), extra.is_empty()) {
        (Ok(_), true) => Ok(id),
        (Ok(_), false) => Err(ApiError::Validation(extra)),
        (Err(ApiError::Validation(mut diagnostics)), _) => {
            extra.append(&mut diagnostics);
            extra.sort_by_key(|d| d.severity);
            Err(ApiError::Validation(extra))
        }
        (Err(e), _) => Err(e),
    }
}

fn error(code: &'static str, path: &str, id: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code,
        path: path.to_owned(),
        id: Some(id.to_owned()),
        message,
    }
}

/// Compiles a configuration after a change to `campaigns[index]`.
///
/// # Errors
/// [`ApiError::Validation`]: that campaign's diagnostics with body-relative paths
/// (`campaigns[2].variants[1].weight` becomes `$.variants[1].weight`), followed by any
/// error elsewhere (absolute paths); warnings about other documents are left out.
pub fn checked_campaign(config: &HandleConfig, index: usize) -> Result<Compiled, ApiError> {
    let prefix = format!("campaigns[{index}]");
    compile(config).map_err(|e| {
        let (mut mine, mut others) = (Vec::new(), Vec::new());
        for mut d in e.diagnostics {
            match d.path.strip_prefix(&prefix) {
                Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => {
                    d.path = format!("${rest}");
                    mine.push(d);
                }
                _ if d.severity == Severity::Error => others.push(d),
                _ => {}
            }
        }
        mine.sort_by_key(|d| d.severity);
        mine.append(&mut others);
        ApiError::Validation(mine)
    })
}

/// Why a transition is refused at `now`, or the state it leads to.
fn check_transition(
    doc: &CampaignDoc,
    requested: Transition,
    now: DateTime<Utc>,
) -> Result<CampaignStatus, String> {
    let from = status_at(doc, now);
    let to = transition(from, requested).map_err(|e| {
        let allowed = allowed_now(doc, now);
        let next = if allowed.is_empty() {
            format!("{from} is terminal: no transition leaves it")
        } else {
            let names: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
            format!("from {from} it can {}", names.join(" or "))
        };
        let ended = match (&doc.end_date, from) {
            (Some(end), CampaignStatus::Completed) => format!(" (its end_date {end} has passed)"),
            _ => String::new(),
        };
        format!("{e}{ended}; {next}")
    })?;
    match (to, &doc.end_date) {
        (CampaignStatus::Active, Some(end))
            if parse_date(Some(end)).is_some_and(|end| end <= now) =>
        {
            Err(format!("cannot {} a campaign that is {from}: its end_date {end} has passed, so it would complete at once; it can only be canceled", requested.as_str()))
        }
        _ => Ok(to),
    }
}

/// The transitions a campaign allows at `now` (on its effective status, and never into
/// an active state after its end date).
pub fn allowed_now(doc: &CampaignDoc, now: DateTime<Utc>) -> Vec<Transition> {
    crate::model::lifecycle::allowed_transitions(status_at(doc, now))
        .into_iter()
        .filter(|t| {
            let ended = parse_date(doc.end_date.as_deref()).is_some_and(|end| end <= now);
            !(ended && matches!(t, Transition::Activate | Transition::Resume))
        })
        .collect()
}

/// Applies a transition to campaign `id` on its effective status at `now` and stores the
/// new status; returns `(from, to)`.
///
/// # Errors
/// [`ApiError::NotFound`], or [`ApiError::Conflict`] `invalid_transition` naming the
/// current state and the transitions it allows.
pub fn transition_campaign(
    config: &mut HandleConfig,
    id: &str,
    requested: Transition,
    now: DateTime<Utc>,
) -> Result<(CampaignStatus, CampaignStatus), ApiError> {
    let index = find_campaign(config, id)?;
    let doc = &mut config.campaigns[index];
    let from = status_at(doc, now);
    let to = check_transition(doc, requested, now).map_err(|message| ApiError::Conflict {
        code: "invalid_transition",
        message,
    })?;
    doc.status = to;
    Ok((from, to))
}

/// A campaign as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    /// The stored document, with `status` set to the effective status.
    #[serde(flatten)]
    pub doc: CampaignDoc,
    /// The status as stored (differs from `status` once an active campaign completes).
    pub stored_status: CampaignStatus,
    /// Active, but its `start_date` lies ahead: no variants assigned yet.
    pub scheduled: bool,
    /// The traffic tags its tracking template must set.
    pub required_tags: Vec<String>,
    /// The transitions allowed now (`POST .../campaigns/{id}/<transition>`).
    pub allowed_transitions: Vec<Transition>,
    /// Enabled rules that route to it, in evaluation order.
    pub routed_by: Vec<String>,
    /// Conversion figures, when the edge read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

/// The view of one campaign at `now` (without stats; set `stats` to add them).
pub fn campaign_view(config: &HandleConfig, doc: &CampaignDoc, now: DateTime<Utc>) -> CampaignView {
    let status = status_at(doc, now);
    let scheduled = status == CampaignStatus::Active
        && parse_date(doc.start_date.as_deref()).is_some_and(|start| now < start);
    let mut shown = doc.clone();
    shown.status = status;
    CampaignView {
        doc: shown,
        stored_status: doc.status,
        scheduled,
        required_tags: doc.required_tags(),
        allowed_transitions: allowed_now(doc, now),
        routed_by: routed_by(config, &doc.id),
        stats: None,
    }
}

/// Every campaign's view, in declaration order.
pub fn campaign_views(config: &HandleConfig, now: DateTime<Utc>) -> Vec<CampaignView> {
    config
        .campaigns
        .iter()
        .map(|doc| campaign_view(config, doc, now))
        .collect()
}

#[cfg(test)]
mod tests;
