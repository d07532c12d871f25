//! Destination domains (UC-08): adding one (pending, with a fresh TXT token), recording
//! a TXT check, recording a manual decision, and the view the API answers with. Every
//! operation works on a copy of the configuration; [`super::documents::mutate`] compiles
//! and commits it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode, Missing};
use crate::engine::allowlist::{entry_routability, normalise_domain, DomainNameError, NotRoutable};
use crate::model::config::{DecisionValue, DomainDecision, DomainDoc, HandleConfig, Verification};
use crate::model::diag::{Diagnostic, Severity};

/// Where a domain's verification token is published.
pub fn txt_record_name(domain: &str) -> String {
    format!("_gharart-verify.{}", domain.trim_start_matches("*."))
}

/// Why a domain operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// Not a DNS host name (or `*.` and one). 422 `validation_failed`, `invalid_domain` at
    /// `$.domain`.
    InvalidName(DomainNameError),
    /// A risk score over 100. 400 `invalid_body` at `$.risk_score`.
    RiskScoreOutOfRange(u8),
    /// A decision needs a reason of 1 to 500 characters. 400 `invalid_body` at `$.reason`.
    Reason,
    /// Listed already. 409 `domain_exists`.
    Exists(String),
    /// Not listed. 404 `domain_not_found`.
    NotFound(String),
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(e) => write!(f, "{e}"),
            Self::RiskScoreOutOfRange(score) => write!(f, "risk scores are 0 to 100, not {score}"),
            Self::Reason => f.write_str("give a reason of 1 to 500 characters"),
            Self::Exists(name) => write!(f, "{name} is already listed"),
            Self::NotFound(name) => write!(f, "no domain {name:?}"),
        }
    }
}

impl std::error::Error for DomainError {}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let message = error.to_string();
        match error {
            // A string of the right form that is no host name: a problem of meaning, with
            // a diagnostic at its path like every other (the document cannot state DNS rules).
            DomainError::InvalidName(_) => ApiError::Validation(vec![Diagnostic {
                severity: Severity::Error,
                code: "invalid_domain",
                path: "$.domain".into(),
                id: None,
                message,
            }]),
            DomainError::RiskScoreOutOfRange(_) => ApiError::invalid_body("$.risk_score", message),
            DomainError::Reason => ApiError::invalid_body("$.reason", message),
            DomainError::Exists(_) => ApiError::Conflict {
                code: ErrorCode::DomainExists,
                message,
            },
            DomainError::NotFound(name) => ApiError::not_found(Missing::Domain, name),
        }
    }
}

/// A destination domain as the API shows it.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct DomainView {
    /// The stored document.
    #[serde(flatten)]
    pub doc: DomainDoc,
    /// Where to publish the token.
    pub txt_record: String,
    /// Whether visitors may be sent there.
    pub routable: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_routable: Option<NotRoutable>,
    /// The same, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The view of one domain under a risk threshold.
pub fn domain_view(doc: &DomainDoc, threshold: u8) -> DomainView {
    let verdict = entry_routability(doc, threshold).err();
    DomainView {
        doc: doc.clone(),
        txt_record: txt_record_name(&doc.domain),
        routable: verdict.is_none(),
        reason: verdict.as_ref().map(ToString::to_string),
        not_routable: verdict,
    }
}

/// The view of the listed domain `name`.
///
/// # Errors
/// [`DomainError::NotFound`].
pub fn view_of(config: &HandleConfig, name: &str) -> Result<DomainView, DomainError> {
    let doc = config
        .domains
        .get(find_domain(config, name)?)
        .ok_or_else(|| DomainError::NotFound(name.to_owned()))?;
    Ok(domain_view(doc, config.risk_threshold))
}

/// Body of `POST .../destination-domains`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), schemars(rename = "AddDomainRequest"))]
pub struct AddDomain {
    /// The domain (normalised: lower-case, IDNA to ASCII; `*.` for subdomains).
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 264)))]
    pub domain: String,
    /// An automated risk score, 0-100, if one is known.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(range(max = 100)))]
    pub risk_score: Option<u8>,
}

/// Adds a domain as `pending` with a fresh token; returns its normalised name.
///
/// # Errors
/// [`DomainError::InvalidName`], [`DomainError::RiskScoreOutOfRange`],
/// [`DomainError::Exists`].
pub fn add_domain(
    config: &mut HandleConfig,
    body: AddDomain,
    token: String,
) -> Result<String, DomainError> {
    let domain = normalise_domain(&body.domain).map_err(DomainError::InvalidName)?;
    if let Some(score) = body.risk_score.filter(|r| *r > 100) {
        return Err(DomainError::RiskScoreOutOfRange(score));
    }
    if config.domains.iter().any(|d| d.domain == domain) {
        return Err(DomainError::Exists(domain));
    }
    config.domains.push(DomainDoc {
        domain: domain.clone(),
        verification: Verification::Pending,
        token: Some(token),
        risk_score: body.risk_score,
        decision: None,
        verified_at: None,
        checked_at: None,
        failure: None,
    });
    Ok(domain)
}

/// The index of a listed domain, looked up by its normalised name.
///
/// # Errors
/// [`DomainError::NotFound`].
pub fn find_domain(config: &HandleConfig, raw: &str) -> Result<usize, DomainError> {
    let name = normalise_domain(raw).unwrap_or_else(|_| raw.to_owned());
    config
        .domains
        .iter()
        .position(|d| d.domain == name)
        .ok_or_else(|| DomainError::NotFound(raw.to_owned()))
}

/// The listed domain `raw`, to change.
///
/// # Errors
/// [`DomainError::NotFound`].
pub fn domain_mut<'c>(
    config: &'c mut HandleConfig,
    raw: &str,
) -> Result<&'c mut DomainDoc, DomainError> {
    let index = find_domain(config, raw)?;
    config
        .domains
        .get_mut(index)
        .ok_or_else(|| DomainError::NotFound(raw.to_owned()))
}

/// Records the outcome of a TXT check at `now`: verified when the token is among the
/// records, else failed with why; returns whether the token was found.
pub fn record_verification(doc: &mut DomainDoc, records: &[String], now: &str) -> bool {
    let matched = doc
        .token
        .as_ref()
        .is_some_and(|token| records.iter().any(|r| r.trim() == token));
    doc.checked_at = Some(now.to_owned());
    if matched {
        doc.verification = Verification::Verified;
        doc.verified_at = Some(now.to_owned());
        doc.failure = None;
    } else {
        doc.verification = Verification::Failed;
        let record = txt_record_name(&doc.domain);
        doc.failure = Some(if records.is_empty() {
            format!("no TXT record at {record} at {now}")
        } else {
            format!("the TXT records at {record} do not hold the token (checked {now})")
        });
    }
    matched
}

/// Body of `POST .../{domain}/decision`.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), schemars(rename = "DecideDomainRequest"))]
pub struct DecideDomain {
    /// `approved` or `rejected`.
    pub decision: DecisionValue,
    /// Why (required: decisions are audited): 1 to 500 characters, not blank.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(length(min = 1, max = 500), regex(pattern = r"\S"))
    )]
    pub reason: String,
}

/// Records a manual decision by `by` at `at`.
///
/// # Errors
/// [`DomainError::Reason`] for an empty or overlong reason.
pub fn decide_domain(
    doc: &mut DomainDoc,
    body: DecideDomain,
    by: &str,
    at: &str,
) -> Result<(), DomainError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::Reason);
    }
    doc.decision = Some(DomainDecision {
        value: body.decision,
        by: by.to_owned(),
        reason: reason.to_owned(),
        at: at.to_owned(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn festive() -> HandleConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        crate::model::files::load_dir(&dir).unwrap().0
    }

    #[test]
    fn decision_reasons_count_characters() {
        let mut config = festive();
        let doc = domain_mut(&mut config, "www.gharart.com").unwrap();
        let decide = |reason: String| DecideDomain {
            decision: DecisionValue::Approved,
            reason,
        };
        assert!(decide_domain(doc, decide("é".repeat(500)), "a", "t").is_ok());
        assert_eq!(
            decide_domain(doc, decide("é".repeat(501)), "a", "t"),
            Err(DomainError::Reason)
        );
        assert_eq!(
            decide_domain(doc, decide("  ".into()), "a", "t"),
            Err(DomainError::Reason)
        );
    }

    #[test]
    fn domains_add_verify_decide() {
        let mut config = festive();
        let add = |domain: &str, risk_score| AddDomain {
            domain: domain.into(),
            risk_score,
        };
        let name = add_domain(
            &mut config,
            add("HTTPS://New.Gharart.COM/", Some(50)),
            "tok-1".into(),
        )
        .unwrap();
        assert_eq!(name, "new.gharart.com");
        let err = add_domain(&mut config, add("new.gharart.com", None), "t".into()).unwrap_err();
        assert_eq!(ApiError::from(err).code(), "domain_exists");
        let err = add_domain(&mut config, add("not a domain", None), "t".into()).unwrap_err();
        assert_eq!(ApiError::from(err).code(), "validation_failed");
        let err = add_domain(&mut config, add("x.gharart.com", Some(101)), "t".into()).unwrap_err();
        assert_eq!(err, DomainError::RiskScoreOutOfRange(101));
        let doc = domain_mut(&mut config, "NEW.gharart.com").unwrap();
        assert!(!record_verification(
            doc,
            &["other".into()],
            "2026-11-22T00:00:00Z"
        ));
        assert_eq!(doc.verification, Verification::Failed);
        assert!(record_verification(
            doc,
            &["tok-1".into()],
            "2026-11-22T00:00:00Z"
        ));
        assert!(
            !domain_view(doc, 30).routable,
            "verified, but risk 50 over 30 and no decision"
        );
        let approve = DecideDomain {
            decision: DecisionValue::Approved,
            reason: "checked by hand".into(),
        };
        decide_domain(doc, approve, "priya", "2026-11-22T00:00:00Z").unwrap();
        assert!(
            domain_view(doc, 30).routable,
            "a manual approval overrides the risk score"
        );
        assert_eq!(
            txt_record_name("*.gharart.in"),
            "_gharart-verify.gharart.in"
        );
        let err = view_of(&config, "nope.example").unwrap_err();
        assert_eq!(ApiError::from(err).code(), "domain_not_found");
    }
}
