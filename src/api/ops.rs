//! Operations of the UC-08 routes on a handle's configuration, and the views they answer
//! with. Every operation works on a copy; [`checked`] compiles the result and refuses it
//! (with every problem) before anything is stored, so an invalid snapshot is never
//! published and the old one stays.

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::engine::allowlist::{entry_routability, normalise_domain, NotRoutable};
use crate::engine::compile::{compile, Compiled};
use crate::model::config::{
    DecisionValue, DomainDecision, DomainDoc, HandleConfig, RuleDoc, TemplateDoc, Verification,
};
use crate::model::diag::{Diagnostic, Severity};
use crate::model::ids::is_valid_id;

/// Where a domain's verification token is published.
pub fn txt_record_name(domain: &str) -> String {
    format!("_gharart-verify.{}", domain.trim_start_matches("*."))
}

/// Compiles a changed configuration, refusing it when it has errors.
///
/// # Errors
/// [`ApiError::Validation`] with every diagnostic.
pub fn checked(config: &HandleConfig) -> Result<Compiled, ApiError> {
    compile(config).map_err(|e| ApiError::Validation(e.diagnostics))
}

/// A destination domain as the API shows it.
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

/// Body of `POST .../destination-domains`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDomain {
    /// The domain (normalised: lower-case, IDNA to ASCII; `*.` for subdomains).
    pub domain: String,
    /// An automated risk score, 0-100, if one is known.
    #[serde(default)]
    pub risk_score: Option<u8>,
}

/// Adds a domain as `pending` with a fresh token; returns its normalised name.
///
/// # Errors
/// [`ApiError::InvalidBody`] for junk or a score over 100, [`ApiError::Conflict`]
/// (`domain_exists`) when it is already listed.
pub fn add_domain(
    config: &mut HandleConfig,
    body: AddDomain,
    token: String,
) -> Result<String, ApiError> {
    let domain = normalise_domain(&body.domain).map_err(|e| ApiError::InvalidBody {
        path: "$.domain".into(),
        message: e.to_string(),
    })?;
    if body.risk_score.is_some_and(|r| r > 100) {
        return Err(ApiError::InvalidBody {
            path: "$.risk_score".into(),
            message: "risk scores are 0 to 100".into(),
        });
    }
    if config.domains.iter().any(|d| d.domain == domain) {
        return Err(ApiError::Conflict {
            code: "domain_exists",
            message: format!("{domain} is already listed"),
        });
    }
    config.domains.push(DomainDoc {
        domain: domain.clone(),
        verification: Verification::Pending,
        token: Some(token),
        risk_score: body.risk_score,
        decision: None,
        verified_at: None,
    });
    Ok(domain)
}

/// The index of a listed domain, looked up by its normalised name.
///
/// # Errors
/// [`ApiError::NotFound`].
pub fn find_domain(config: &HandleConfig, raw: &str) -> Result<usize, ApiError> {
    let name = normalise_domain(raw).unwrap_or_else(|_| raw.to_owned());
    config
        .domains
        .iter()
        .position(|d| d.domain == name)
        .ok_or_else(|| ApiError::NotFound {
            what: "domain",
            id: raw.to_owned(),
        })
}

/// Records the outcome of a TXT check.
pub fn record_verification(doc: &mut DomainDoc, records: &[String], now: &str) -> bool {
    let matched = doc
        .token
        .as_ref()
        .is_some_and(|token| records.iter().any(|r| r.trim() == token));
    doc.verification = if matched {
        Verification::Verified
    } else {
        Verification::Failed
    };
    if matched {
        doc.verified_at = Some(now.to_owned());
    }
    matched
}

/// Body of `POST .../{domain}/decision`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideDomain {
    /// `approved` or `rejected`.
    pub decision: DecisionValue,
    /// Why (required: decisions are audited).
    pub reason: String,
}

/// Records a manual decision by `by` at `at`.
///
/// # Errors
/// [`ApiError::InvalidBody`] for an empty or overlong reason.
pub fn decide_domain(
    doc: &mut DomainDoc,
    body: DecideDomain,
    by: &str,
    at: &str,
) -> Result<(), ApiError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::InvalidBody {
            path: "$.reason".into(),
            message: "give a reason of 1 to 500 characters".into(),
        });
    }
    doc.decision = Some(DomainDecision {
        value: body.decision,
        by: by.to_owned(),
        reason: reason.to_owned(),
        at: at.to_owned(),
    });
    Ok(())
}

/// A rule as the API shows it: the document, where it stands in evaluation order, and
/// its warnings (e.g. an unroutable destination).
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    /// The stored rule.
    #[serde(flatten)]
    pub rule: RuleDoc,
    /// Whether its destination (if any) is routable now.
    pub routable: bool,
    /// Warnings about this rule.
    pub warnings: Vec<Diagnostic>,
}

/// Every rule in evaluation order with its warnings.
pub fn rule_views(config: &HandleConfig, compiled: &Compiled) -> Vec<RuleView> {
    let mut rules: Vec<&RuleDoc> = config.rules.iter().collect();
    rules.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.id.cmp(&b.id)));
    rules
        .into_iter()
        .map(|rule| rule_view(rule, &compiled.warnings))
        .collect()
}

/// One rule's view, its warnings picked from the configuration's.
pub fn rule_view(rule: &RuleDoc, warnings: &[Diagnostic]) -> RuleView {
    let mine: Vec<Diagnostic> = warnings
        .iter()
        .filter(|d| d.id.as_deref() == Some(&rule.id) && d.path.starts_with("rules["))
        .cloned()
        .collect();
    let routable = !mine.iter().any(|d| d.code == "unroutable_destination");
    RuleView {
        rule: rule.clone(),
        routable,
        warnings: mine,
    }
}

/// Creates or replaces the rule `id` from a PUT body (a rule document whose `id`, if
/// given, must equal the path's). Returns whether it was created.
///
/// # Errors
/// [`ApiError::InvalidParameter`] for a bad id, [`ApiError::InvalidBody`] for a
/// mismatched id, [`ApiError::Validation`] with every problem of the new configuration,
/// paths relative to the body (`$.conditions.country.in[0]`).
pub fn put_rule(
    config: &mut HandleConfig,
    id: &str,
    mut body: serde_json::Value,
) -> Result<(bool, Compiled), ApiError> {
    if !is_valid_id(id) {
        return Err(ApiError::InvalidParameter {
            name: "ruleId",
            message: "rule ids are 1 to 64 letters, digits, '-', '_' or '.'".into(),
        });
    }
    let object = body.as_object_mut().ok_or_else(|| ApiError::InvalidBody {
        path: "$".into(),
        message: "expected a JSON object".into(),
    })?;
    match object.get("id") {
        None => {
            object.insert("id".into(), serde_json::Value::String(id.to_owned()));
        }
        Some(serde_json::Value::String(given)) if given == id => {}
        Some(_) => {
            return Err(ApiError::InvalidBody {
                path: "$.id".into(),
                message: format!("the body's id must be {id:?}, the id in the path"),
            })
        }
    }
    let rule: RuleDoc = super::body::from_value(body)?;
    let position = config.rules.iter().position(|r| r.id == id);
    let index = match position {
        Some(i) => {
            config.rules[i] = rule;
            i
        }
        None => {
            config.rules.push(rule);
            config.rules.len() - 1
        }
    };
    let compiled = compile(config).map_err(|e| {
        ApiError::Validation(relative_to(e.diagnostics, &format!("rules[{index}]")))
    })?;
    Ok((position.is_none(), compiled))
}

/// Rewrites diagnostics under `prefix` to body-relative `$` paths; others keep theirs.
/// Only the body's own diagnostics and errors elsewhere are kept: warnings about other
/// documents are noise in the answer to this write.
fn relative_to(diagnostics: Vec<Diagnostic>, prefix: &str) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .filter_map(|mut d| {
            let rest = d
                .path
                .strip_prefix(prefix)
                .filter(|r| r.is_empty() || r.starts_with(['.', '[']));
            match rest {
                Some(rest) => {
                    d.path = format!("${rest}");
                    Some(d)
                }
                None => (d.severity == Severity::Error).then_some(d),
            }
        })
        .collect()
}

/// Deletes a rule.
///
/// # Errors
/// [`ApiError::NotFound`].
pub fn delete_rule(config: &mut HandleConfig, id: &str) -> Result<(), ApiError> {
    let before = config.rules.len();
    config.rules.retain(|r| r.id != id);
    if config.rules.len() == before {
        return Err(ApiError::NotFound {
            what: "rule",
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// Creates or replaces a template; returns whether it was created.
///
/// # Errors
/// [`ApiError::Validation`] with every problem (unknown placeholders, reserved names,
/// precedence), paths relative to the body.
pub fn put_template(
    config: &mut HandleConfig,
    template: TemplateDoc,
) -> Result<(bool, Compiled), ApiError> {
    let position = config.templates.iter().position(|t| t.id == template.id);
    let index = match position {
        Some(i) => {
            config.templates[i] = template;
            i
        }
        None => {
            config.templates.push(template);
            config.templates.len() - 1
        }
    };
    let compiled = compile(config).map_err(|e| {
        ApiError::Validation(relative_to(e.diagnostics, &format!("templates[{index}]")))
    })?;
    Ok((position.is_none(), compiled))
}

/// Checks a whole configuration sent to `PUT .../configuration` (what `router push`
/// sends): its `handle` must be the path's; every problem is reported with its path.
///
/// # Errors
/// [`ApiError::InvalidBody`] for the wrong shape or handle, [`ApiError::Validation`].
pub fn replace_configuration(
    handle: &str,
    value: serde_json::Value,
) -> Result<HandleConfig, ApiError> {
    let config: HandleConfig = super::body::from_value(value)?;
    if config.handle != handle {
        return Err(ApiError::InvalidBody {
            path: "$.handle".into(),
            message: format!(
                "the configuration is for {:?}, not {handle:?}",
                config.handle
            ),
        });
    }
    compile(&config).map_err(|e| {
        ApiError::Validation(
            e.diagnostics
                .into_iter()
                .map(|mut d| {
                    d.path = format!("$.{}", d.path);
                    d
                })
                .collect(),
        )
    })?;
    Ok(config)
}

/// Warnings only (for responses after a successful write).
pub fn warnings(compiled: &Compiled) -> Vec<&Diagnostic> {
    compiled
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn festive() -> HandleConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        crate::model::files::load_dir(&dir).unwrap().0
    }

    #[test]
    fn put_rule_creates_replaces_and_flags_unroutable() {
        let mut config = festive();
        let body = json!({"priority": 5, "entries": ["festive"], "conditions": {"country": {"in": ["IN"]}}, "destination": "https://offers.gharart-deals.com/x"});
        let (created, compiled) = put_rule(&mut config, "new-rule", body).unwrap();
        assert!(created);
        let view = rule_view(
            config.rules.iter().find(|r| r.id == "new-rule").unwrap(),
            &compiled.warnings,
        );
        assert!(!view.routable);
        assert_eq!(view.warnings[0].code, "unroutable_destination");
        let body = json!({"id": "new-rule", "priority": 6, "entries": ["festive"], "destination": "https://www.gharart.com/x"});
        let (created, _) = put_rule(&mut config, "new-rule", body).unwrap();
        assert!(!created);
        assert_eq!(
            config.rules.iter().filter(|r| r.id == "new-rule").count(),
            1
        );
    }

    #[test]
    fn put_rule_reports_every_problem_relative_to_the_body() {
        let mut config = festive();
        let body = json!({"priority": 5, "entries": ["nope"], "conditions": {"country": {"in": ["India"]}, "device": {"in": ["phone"]}}, "destination": "http://www.gharart.com/"});
        let err = put_rule(&mut config, "bad", body).unwrap_err();
        let ApiError::Validation(diagnostics) = err else {
            panic!("{err:?}")
        };
        let paths: Vec<(&str, &str)> = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.code, d.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("unknown_entry", "$.entries[0]"),
                ("invalid_country", "$.conditions.country.in[0]"),
                ("invalid_device", "$.conditions.device.in[0]"),
                ("invalid_url", "$.destination"),
            ]
        );
        let err = put_rule(&mut config, "bad", json!({"id": "other", "priority": 1, "entries": ["festive"], "destination": "https://www.gharart.com/"})).unwrap_err();
        assert_eq!(err.code(), "invalid_body");
        assert_eq!(
            put_rule(&mut config, "bad id!", json!({}))
                .unwrap_err()
                .code(),
            "invalid_parameter"
        );
    }

    /// Regression: the prefix `rules[1]` also stripped `rules[10].destination` into the
    /// broken path `$0].destination`.
    #[test]
    fn relative_paths_match_whole_indices() {
        let d = |path: &str, severity| Diagnostic {
            severity,
            code: "x",
            path: path.into(),
            id: None,
            message: String::new(),
        };
        let out = relative_to(
            vec![
                d("rules[1].destination", Severity::Error),
                d("rules[10].destination", Severity::Warning),
                d("rules[10].entries", Severity::Error),
                d("rules[1]", Severity::Error),
            ],
            "rules[1]",
        );
        let paths: Vec<&str> = out.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["$.destination", "rules[10].entries", "$"]);
    }

    /// Regression: template values had no length limit, so a 60 KB value made a 61 KB
    /// Location header.
    #[test]
    fn template_values_and_counts_are_bounded() {
        let mut config = festive();
        let long = TemplateDoc {
            id: "long".into(),
            params: [("x".to_owned(), "v".repeat(257))].into_iter().collect(),
            precedence: None,
        };
        let ApiError::Validation(d) = put_template(&mut config, long).unwrap_err() else {
            panic!()
        };
        assert!(
            d.iter()
                .any(|d| d.code == "invalid_param_value" && d.path == "$.params.x"),
            "{d:?}"
        );
        let many = TemplateDoc {
            id: "many".into(),
            params: (0..21).map(|i| (format!("p{i}"), "v".to_owned())).collect(),
            precedence: None,
        };
        let ApiError::Validation(d) = put_template(&mut festive(), many).unwrap_err() else {
            panic!()
        };
        assert!(d.iter().any(|d| d.code == "too_many_params"), "{d:?}");
    }

    #[test]
    fn decision_reasons_count_characters() {
        let mut config = festive();
        let reason = "é".repeat(500);
        let i = find_domain(&config, "www.gharart.com").unwrap();
        assert!(decide_domain(
            &mut config.domains[i],
            DecideDomain {
                decision: DecisionValue::Approved,
                reason
            },
            "a",
            "t"
        )
        .is_ok());
        let too_long = "é".repeat(501);
        assert!(decide_domain(
            &mut config.domains[i],
            DecideDomain {
                decision: DecisionValue::Approved,
                reason: too_long
            },
            "a",
            "t"
        )
        .is_err());
    }

    #[test]
    fn domains_add_verify_decide() {
        let mut config = festive();
        let name = add_domain(
            &mut config,
            AddDomain {
                domain: "HTTPS://New.Gharart.COM/".into(),
                risk_score: Some(50),
            },
            "tok-1".into(),
        )
        .unwrap();
        assert_eq!(name, "new.gharart.com");
        let err = add_domain(
            &mut config,
            AddDomain {
                domain: "new.gharart.com".into(),
                risk_score: None,
            },
            "t".into(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "domain_exists");
        assert_eq!(
            add_domain(
                &mut config,
                AddDomain {
                    domain: "not a domain".into(),
                    risk_score: None
                },
                "t".into()
            )
            .unwrap_err()
            .code(),
            "invalid_body"
        );
        let i = find_domain(&config, "NEW.gharart.com").unwrap();
        let doc = &mut config.domains[i];
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
        let view = domain_view(doc, 30);
        assert!(
            !view.routable,
            "verified, but risk 50 over 30 and no decision"
        );
        decide_domain(
            doc,
            DecideDomain {
                decision: DecisionValue::Approved,
                reason: "checked by hand".into(),
            },
            "priya",
            "2026-11-22T00:00:00Z",
        )
        .unwrap();
        assert!(
            domain_view(doc, 30).routable,
            "a manual approval overrides the risk score"
        );
        assert_eq!(
            txt_record_name("*.gharart.in"),
            "_gharart-verify.gharart.in"
        );
    }
}
