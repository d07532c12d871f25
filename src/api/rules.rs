//! Rules, tracking templates and the whole configuration (UC-08, `router push`): the
//! edits behind `PUT/DELETE .../personalization-rules/{id}`, `POST
//! .../tracking-templates` and `PUT .../configuration`, and the rule view. Each edit says
//! where its body sits in the configuration, so [`super::documents::mutate`] reports the
//! problems of the one compile it runs relative to the body (`$.conditions.country.in[0]`).

use std::fmt;

use serde::Serialize;

use super::body::{self, BodyError};
use super::documents::Edit;
use super::error::{ApiError, Missing};
use crate::engine::compile::Compiled;
use crate::model::config::{HandleConfig, RuleDoc, TemplateDoc};
use crate::model::diag::{Diagnostic, Severity};
use crate::model::ids::is_valid_id;

/// Why a rule or configuration edit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// The path's rule id is not 1 to 64 letters, digits, `-`, `_` or `.`. 400
    /// `invalid_parameter` (`ruleId`).
    InvalidId,
    /// The body names another id than the path. 400 `invalid_body` at `$.id`.
    IdMismatch(String),
    /// The body is not a rule (or configuration) document. 400 `invalid_body`.
    Body(BodyError),
    /// No such rule. 404 `rule_not_found`.
    NotFound(String),
    /// A whole configuration for another handle. 400 `invalid_body` at `$.handle`.
    WrongHandle {
        /// The handle the body names.
        given: String,
        /// The handle of the path.
        expected: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidId => f.write_str("rule ids are 1 to 64 letters, digits, '-', '_' or '.'"),
            Self::IdMismatch(id) => write!(f, "the body's id must be {id:?}, the id in the path"),
            Self::Body(e) => write!(f, "{e}"),
            Self::NotFound(id) => write!(f, "no rule {id:?}"),
            Self::WrongHandle { given, expected } => {
                write!(f, "the configuration is for {given:?}, not {expected:?}")
            }
        }
    }
}

impl std::error::Error for RuleError {}

impl From<BodyError> for RuleError {
    fn from(error: BodyError) -> Self {
        Self::Body(error)
    }
}

impl From<RuleError> for ApiError {
    fn from(error: RuleError) -> Self {
        let message = error.to_string();
        match error {
            RuleError::InvalidId => ApiError::InvalidParameter {
                name: "ruleId",
                message,
            },
            RuleError::IdMismatch(_) => ApiError::invalid_body("$.id", message),
            RuleError::Body(e) => e.into(),
            RuleError::NotFound(id) => ApiError::not_found(Missing::Rule, id),
            RuleError::WrongHandle { .. } => ApiError::invalid_body("$.handle", message),
        }
    }
}

/// A rule as the API shows it: the document, where it stands in evaluation order, and
/// its warnings (e.g. an unroutable destination).
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
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
/// given, must equal the path's). The edit's value says whether it was created.
///
/// # Errors
/// [`RuleError::InvalidId`], [`RuleError::IdMismatch`], [`RuleError::Body`].
pub fn put_rule(
    config: &mut HandleConfig,
    id: &str,
    mut body: serde_json::Value,
) -> Result<Edit<bool>, RuleError> {
    if !is_valid_id(id) {
        return Err(RuleError::InvalidId);
    }
    let object = body
        .as_object_mut()
        .ok_or_else(|| BodyError::at("$", "expected a JSON object"))?;
    match object.get("id") {
        None => {
            object.insert("id".into(), serde_json::Value::String(id.to_owned()));
        }
        Some(serde_json::Value::String(given)) if given == id => {}
        Some(_) => return Err(RuleError::IdMismatch(id.to_owned())),
    }
    let rule: RuleDoc = body::from_value(body)?;
    let (index, created) = upsert(&mut config.rules, rule, |r| r.id == id);
    Ok(Edit::of_document(created, format!("rules[{index}]")))
}

/// Replaces the first item that `is_it` matches, or appends; returns its index and
/// whether it was appended.
fn upsert<T>(items: &mut Vec<T>, item: T, is_it: impl Fn(&T) -> bool) -> (usize, bool) {
    match items.iter_mut().enumerate().find(|(_, x)| is_it(x)) {
        Some((index, slot)) => {
            *slot = item;
            (index, false)
        }
        None => {
            items.push(item);
            (items.len() - 1, true)
        }
    }
}

/// Deletes a rule.
///
/// # Errors
/// [`RuleError::NotFound`].
pub fn delete_rule(config: &mut HandleConfig, id: &str) -> Result<Edit<()>, RuleError> {
    let before = config.rules.len();
    config.rules.retain(|r| r.id != id);
    if config.rules.len() == before {
        return Err(RuleError::NotFound(id.to_owned()));
    }
    Ok(Edit::whole(()))
}

/// Creates or replaces a template; the edit's value says whether it was created.
pub fn put_template(config: &mut HandleConfig, template: TemplateDoc) -> Edit<bool> {
    let id = template.id.clone();
    let (index, created) = upsert(&mut config.templates, template, |t| t.id == id);
    Edit::of_document(created, format!("templates[{index}]"))
}

/// Reads a whole configuration sent to `PUT .../configuration` (what `router push`
/// sends): its `handle` must be the path's. Whether it compiles is checked when it is
/// applied, with every problem at its `$.` path.
///
/// # Errors
/// [`RuleError::Body`] for the wrong shape, [`RuleError::WrongHandle`].
pub fn replace_configuration(
    handle: &str,
    value: serde_json::Value,
) -> Result<HandleConfig, RuleError> {
    let config: HandleConfig = body::from_value(value)?;
    if config.handle != handle {
        return Err(RuleError::WrongHandle {
            given: config.handle,
            expected: handle.to_owned(),
        });
    }
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
    use crate::api::documents::Focus;

    fn festive() -> HandleConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        crate::model::files::load_dir(&dir).unwrap().0
    }

    #[test]
    fn put_rule_creates_then_replaces() {
        let mut config = festive();
        let body = json!({"priority": 5, "entries": ["festive"], "destination": "https://www.gharart.com/x"});
        let edit = put_rule(&mut config, "new-rule", body.clone()).unwrap();
        assert!(edit.value);
        let index = config.rules.len() - 1;
        assert!(matches!(edit.focus, Focus::Document(ref p) if *p == format!("rules[{index}]")));
        let mut again = body;
        again["id"] = json!("new-rule");
        again["priority"] = json!(6);
        assert!(!put_rule(&mut config, "new-rule", again).unwrap().value);
        let rules: Vec<_> = config.rules.iter().filter(|r| r.id == "new-rule").collect();
        assert_eq!((rules.len(), rules[0].priority), (1, 6));
    }

    #[test]
    fn put_rule_checks_the_id_and_the_shape() {
        let mut config = festive();
        let body = json!({"id": "other", "priority": 1, "entries": ["festive"]});
        assert_eq!(
            put_rule(&mut config, "bad", body).unwrap_err(),
            RuleError::IdMismatch("bad".into())
        );
        let err = put_rule(&mut config, "bad id!", json!({})).unwrap_err();
        assert_eq!(ApiError::from(err).code(), "invalid_parameter");
        let err =
            put_rule(&mut config, "r", json!({"priority": "high", "entries": []})).unwrap_err();
        assert!(
            matches!(err, RuleError::Body(BodyError::Shape { ref path, .. }) if path == "$.priority"),
            "{err:?}"
        );
        assert_eq!(
            delete_rule(&mut config, "nope").unwrap_err(),
            RuleError::NotFound("nope".into())
        );
    }

    #[test]
    fn a_whole_configuration_names_its_handle() {
        let config = festive();
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(
            replace_configuration("gharart", value.clone()).unwrap(),
            config
        );
        let err = replace_configuration("other", value).unwrap_err();
        assert_eq!(ApiError::from(err).code(), "invalid_body");
    }
}
