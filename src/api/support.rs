//! End-user escalation: `POST /v2/support/report` (UC-07/UC-08 "Escalation"). Public, so
//! bounded: every field has a length limit and the report id is random, not a counter.

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::model::ids::is_valid_slug;

/// The form of every text field: not blank, no control characters but tab, CR and LF.
#[cfg(not(target_arch = "wasm32"))]
const TEXT: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";

/// Body of a support report.
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), schemars(rename = "SupportReportRequest"))]
pub struct SupportReport {
    /// One line: what went wrong.
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 200), regex(pattern = TEXT)))]
    pub summary: String,
    /// What happened, steps to reproduce.
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 10_000), regex(pattern = TEXT)))]
    pub details: String,
    /// The handle concerned.
    #[serde(default)]
    #[cfg_attr(
        not(target_arch = "wasm32"),
        schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))
    )]
    pub handle: Option<String>,
    /// The reporter's session id.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 128), regex(pattern = TEXT)))]
    pub session_id: Option<String>,
    /// A request id from an `X-Request-Id` header or an error body.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 128), regex(pattern = TEXT)))]
    pub request_id: Option<String>,
    /// A reproduction artifact: a URL, a curl command, a HAR excerpt.
    #[serde(default)]
    #[cfg_attr(not(target_arch = "wasm32"), schemars(length(min = 1, max = 20_000), regex(pattern = TEXT)))]
    pub repro_artifact: Option<String>,
}

fn check(value: &str, path: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > max_chars {
        return Err(ApiError::InvalidBody {
            path: path.into(),
            message: format!("1 to {max_chars} characters"),
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ApiError::InvalidBody {
            path: path.into(),
            message: "control characters are not allowed".into(),
        });
    }
    Ok(())
}

impl SupportReport {
    /// Checks every field's form and size.
    ///
    /// # Errors
    /// [`ApiError::InvalidBody`] naming the first field that is wrong.
    pub fn validate(&self) -> Result<(), ApiError> {
        check(&self.summary, "$.summary", 200)?;
        check(&self.details, "$.details", 10_000)?;
        if let Some(handle) = &self.handle {
            if !is_valid_slug(handle) {
                return Err(ApiError::InvalidBody {
                    path: "$.handle".into(),
                    message: "not a handle".into(),
                });
            }
        }
        if let Some(session) = &self.session_id {
            check(session, "$.sessionId", 128)?;
        }
        if let Some(request) = &self.request_id {
            check(request, "$.requestId", 128)?;
        }
        if let Some(artifact) = &self.repro_artifact {
            check(artifact, "$.reproArtifact", 20_000)?;
        }
        Ok(())
    }
}

/// A report id from 12 random bytes: `rep_` and 24 hex digits.
pub fn report_id(random: &[u8]) -> String {
    format!("rep_{}", crate::model::ids::hex(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SupportReport, ApiError> {
        let report: SupportReport = crate::api::body::parse(json.as_bytes(), 64 * 1024)?;
        report.validate().map(|()| report)
    }

    #[test]
    fn accepts_the_seed_fields() {
        let r = parse(r#"{"summary": "Redirect loops", "details": "Steps...", "handle": "gharart", "sessionId": "s-1", "requestId": "abc", "reproArtifact": "curl -i https://..."}"#).unwrap();
        assert_eq!(r.session_id.as_deref(), Some("s-1"));
        assert!(parse(r#"{"summary": "x", "details": "y"}"#).is_ok());
    }

    #[test]
    fn refuses_bad_fields() {
        let cases = [
            (r#"{"summary": "", "details": "y"}"#, "$.summary"),
            (
                r#"{"summary": "x", "details": "y", "handle": "Not A Handle"}"#,
                "$.handle",
            ),
            (r#"{"summary": "x\u0000", "details": "y"}"#, "$.summary"),
            (r#"{"summary": "x", "details": "y", "extra": 1}"#, "$.extra"),
            (r#"{"summary": "x"}"#, "$"),
        ];
        for (json, path) in cases {
            match parse(json).unwrap_err() {
                ApiError::InvalidBody { path: p, .. } => assert_eq!(p, path, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        let long = format!(r#"{{"summary": "{}", "details": "y"}}"#, "a".repeat(201));
        assert!(parse(&long).is_err());
    }

    #[test]
    fn report_ids() {
        assert_eq!(report_id(&[0xab; 12]), format!("rep_{}", "ab".repeat(12)));
    }
}
