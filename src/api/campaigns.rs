//! Campaign operations of the UC-07 routes (`GET/POST .../campaigns`, `GET
//! .../campaigns/{id}`, `POST .../campaigns/{id}/activate|pause|resume|cancel`, and
//! `.../promote`, in `campaigns/promote.rs`) and the view they answer with. Like
//! [`super::ops`], every operation works on a copy of the handle's configuration;
//! [`super::documents::mutate`] compiles and commits it.
//!
//! Decisions:
//! - **Creation** is `draft` (default) or `active`; any other `status` is 400
//!   `invalid_body` at `$.status` (the other states are reached by transitions only). The
//!   `id` is the body's, or a UUID v4 the edge generates ([`uuid_v4`]). A campaign whose
//!   `end_date` has already passed is refused (`end_date_passed`): it would be born
//!   completed and could never assign a variant. Every problem of the new campaign is
//!   reported at once as 400 `validation_failed`, paths relative to the body
//!   (`$.variants[1].destination`), by compiling the whole configuration once.
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

use std::fmt;

use super::documents::Edit;
use super::error::{ApiError, ErrorCode, Missing};
use crate::analysis::stats::Stats;
pub use crate::model::config::routed_by;
use crate::model::config::{CampaignDoc, HandleConfig, VariantDoc};
use crate::model::diag::{Diagnostic, Severity};
use crate::model::lifecycle::{parse_date, status_at, transition, CampaignStatus, Transition};

/// Why a campaign operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignError {
    /// No such campaign. 404 `campaign_not_found`.
    NotFound(String),
    /// The id is taken. 409 `campaign_exists`.
    Exists(String),
    /// Created in a state other than draft or active. 422 `validation_failed`,
    /// `invalid_status` at `$.status`.
    InitialStatus(CampaignStatus),
    /// The transition is not allowed from the current state (why, and what is). 409
    /// `invalid_transition`.
    InvalidTransition(String),
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(id) => write!(f, "no campaign {id:?}"),
            Self::Exists(id) => write!(f, "a campaign with the id {id:?} already exists"),
            Self::InitialStatus(status) => write!(f, "a campaign is created draft (the default) or active, not {status}; other states are reached through pause, resume and cancel"),
            Self::InvalidTransition(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CampaignError {}

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        let message = error.to_string();
        match error {
            CampaignError::NotFound(id) => ApiError::not_found(Missing::Campaign, id),
            CampaignError::Exists(_) => ApiError::Conflict {
                code: ErrorCode::CampaignExists,
                message,
            },
            CampaignError::InitialStatus(_) => ApiError::Validation(vec![Diagnostic {
                severity: Severity::Error,
                code: "invalid_status",
                path: "$.status".into(),
                id: None,
                message,
            }]),
            CampaignError::InvalidTransition(_) => ApiError::Conflict {
                code: ErrorCode::InvalidTransition,
                message,
            },
        }
    }
}

/// Longest campaign name accepted (characters).
pub const MAX_NAME_CHARS: usize = 200;

/// Body of `POST /v2/handles/{handle}/campaigns`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    schemars(rename = "CreateCampaignRequest")
)]
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
    let hex = crate::model::ids::hex(&b);
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    )
}

/// The campaign `id`.
///
/// # Errors
/// [`CampaignError::NotFound`].
pub fn find_campaign<'c>(
    config: &'c HandleConfig,
    id: &str,
) -> Result<&'c CampaignDoc, CampaignError> {
    config
        .campaigns
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| CampaignError::NotFound(id.to_owned()))
}

/// Adds a campaign from a POST body under `id` (the body's id wins when given); the
/// edit's value is the id, its problems the ones compiling cannot find (name, end date).
///
/// # Errors
/// [`CampaignError::InitialStatus`] for a state other than draft or active,
/// [`CampaignError::Exists`].
pub fn create_campaign(
    config: &mut HandleConfig,
    body: CreateCampaign,
    id: String,
    now: DateTime<Utc>,
) -> Result<Edit<String>, CampaignError> {
    let status = body.status.unwrap_or_default();
    if !matches!(status, CampaignStatus::Draft | CampaignStatus::Active) {
        return Err(CampaignError::InitialStatus(status));
    }
    let id = body.id.unwrap_or(id);
    if config.campaigns.iter().any(|c| c.id == id) {
        return Err(CampaignError::Exists(id));
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
    let path = format!("campaigns[{}]", config.campaigns.len() - 1);
    let mut edit = Edit::of_document(id, path);
    edit.problems = extra;
    Ok(edit)
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
/// [`CampaignError::NotFound`], or [`CampaignError::InvalidTransition`] naming the
/// current state and the transitions it allows.
pub fn transition_campaign(
    config: &mut HandleConfig,
    id: &str,
    requested: Transition,
    now: DateTime<Utc>,
) -> Result<Edit<(CampaignStatus, CampaignStatus)>, CampaignError> {
    let doc = config
        .campaigns
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| CampaignError::NotFound(id.to_owned()))?;
    let from = status_at(doc, now);
    let to = check_transition(doc, requested, now).map_err(CampaignError::InvalidTransition)?;
    doc.status = to;
    Ok(Edit::whole((from, to)))
}

/// A campaign as the API shows it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
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

mod promote;
pub use promote::{promote_campaign, PromoteRequest, Promoted};

#[cfg(test)]
mod tests;
