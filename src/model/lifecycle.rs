//! Campaign states and their transitions.
//!
//! ```text
//! draft ──activate──▶ active ◀──resume── paused
//!   │                   │ └────pause────▶  │
//!   └──────cancel───────┴──────cancel──────┴──▶ canceled (terminal)
//!                       └─ end_date passed ──▶ completed (terminal, automatic)
//! ```
//!
//! An active or paused campaign is also stored `completed` when its winner is promoted
//! (`POST .../campaigns/{id}/promote`, `crate::api::campaigns::promote_campaign`): not a
//! [`Transition`], since it also reroutes the campaign's rules. `completed` needs no cron: [`effective_status`] derives it from the clock whenever a
//! campaign is read, on the edge and in the API alike. A campaign stored as `active`
//! whose `start_date` lies ahead is *scheduled*: active, but assigning no variants yet.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A campaign's state.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being prepared; assigns nothing.
    #[default]
    Draft,
    /// Assigning variants.
    Active,
    /// Temporarily halted; can resume.
    Paused,
    /// Stopped for good.
    Canceled,
    /// Ended on its `end_date`.
    Completed,
}

impl CampaignStatus {
    /// The state's name in the API and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
            Self::Completed => "completed",
        }
    }

    /// Whether no transition leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Canceled | Self::Completed)
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A requested state change.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// draft → active.
    Activate,
    /// active → paused.
    Pause,
    /// paused → active.
    Resume,
    /// draft, active or paused → canceled.
    Cancel,
}

impl Transition {
    /// The transition's name in routes and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }

    /// Parses a route's action segment.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Activate, Self::Pause, Self::Resume, Self::Cancel]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A transition the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionError {
    /// The state the campaign is in.
    pub from: CampaignStatus,
    /// What was asked.
    pub transition: Transition,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} a campaign that is {}",
            self.transition.as_str(),
            self.from
        )
    }
}

impl std::error::Error for TransitionError {}

/// Applies a transition to the campaign's *effective* state.
///
/// # Errors
/// [`TransitionError`] when the state machine has no such edge (e.g. resuming a
/// canceled campaign, or pausing a completed one).
pub fn transition(
    from: CampaignStatus,
    transition: Transition,
) -> Result<CampaignStatus, TransitionError> {
    use CampaignStatus::*;
    let to = match (from, transition) {
        (Draft, Transition::Activate) => Active,
        (Active, Transition::Pause) => Paused,
        (Paused, Transition::Resume) => Active,
        (Draft | Active | Paused, Transition::Cancel) => Canceled,
        _ => return Err(TransitionError { from, transition }),
    };
    Ok(to)
}

/// The transitions the state machine allows from `from`, in route order.
pub fn allowed_transitions(from: CampaignStatus) -> Vec<Transition> {
    [
        Transition::Activate,
        Transition::Pause,
        Transition::Resume,
        Transition::Cancel,
    ]
    .into_iter()
    .filter(|t| transition(from, *t).is_ok())
    .collect()
}

/// The state a stored campaign is in at `now`: an active campaign whose end date has
/// passed is completed.
pub fn effective_status(
    stored: CampaignStatus,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> CampaignStatus {
    match (stored, end) {
        (CampaignStatus::Active, Some(end)) if now >= end => CampaignStatus::Completed,
        _ => stored,
    }
}

/// Parses a stored RFC 3339 date (compile has checked it; junk counts as absent).
pub fn parse_date(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|r| DateTime::parse_from_rfc3339(r).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A campaign's effective status at `now`.
pub fn status_at(doc: &crate::model::config::CampaignDoc, now: DateTime<Utc>) -> CampaignStatus {
    effective_status(doc.status, parse_date(doc.end_date.as_deref()), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    #[test]
    fn the_state_machine_of_the_seed() {
        let all = [Draft, Active, Paused, Canceled, Completed];
        let moves = [
            Transition::Activate,
            Transition::Pause,
            Transition::Resume,
            Transition::Cancel,
        ];
        let mut allowed = Vec::new();
        for from in all {
            for t in moves {
                if let Ok(to) = transition(from, t) {
                    allowed.push((from, t, to));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                (Draft, Transition::Activate, Active),
                (Draft, Transition::Cancel, Canceled),
                (Active, Transition::Pause, Paused),
                (Active, Transition::Cancel, Canceled),
                (Paused, Transition::Resume, Active),
                (Paused, Transition::Cancel, Canceled),
            ]
        );
    }

    #[test]
    fn terminal_states_refuse_everything() {
        let err = transition(Canceled, Transition::Resume).unwrap_err();
        assert_eq!(err.to_string(), "cannot resume a campaign that is canceled");
        assert!(transition(Completed, Transition::Pause).is_err());
        assert!(Canceled.is_terminal() && Completed.is_terminal() && !Paused.is_terminal());
        assert_eq!(
            allowed_transitions(Paused),
            vec![Transition::Resume, Transition::Cancel]
        );
        assert!(allowed_transitions(Completed).is_empty());
    }

    #[test]
    fn completion_comes_from_the_clock() {
        let end: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let before: DateTime<Utc> = "2026-11-19T23:59:59Z".parse().unwrap();
        assert_eq!(effective_status(Active, Some(end), before), Active);
        assert_eq!(effective_status(Active, Some(end), end), Completed);
        assert_eq!(effective_status(Paused, Some(end), end), Paused);
        assert_eq!(effective_status(Active, None, end), Active);
    }
}
