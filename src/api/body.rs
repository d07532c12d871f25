//! Request bodies: size limit, JSON syntax errors with their line and column, shape
//! errors (unknown fields, wrong types) with their JSON path.

use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The default body limit (64 KiB); the edge reads `API_MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses a JSON body into `T`.
///
/// # Errors
/// [`ApiError::BodyTooLarge`], [`ApiError::InvalidJson`] (syntax, with line and column) or
/// [`ApiError::InvalidBody`] (shape, with the JSON path, e.g. `conditions.country.in[0]`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, ApiError> {
    if bytes.len() > limit {
        return Err(ApiError::BodyTooLarge(limit));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "the body is empty; send a JSON object".into(),
        ));
    }
    // Syntax first, so a syntax error is reported as such with its position.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidJson(format!(
            "{} at line {} column {}",
            describe(&e),
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::InvalidBody {
            path: "$".into(),
            message: "expected a JSON object".into(),
        });
    }
    from_value(value)
}

/// Converts a parsed JSON value into `T`, reporting the JSON path of a shape error.
///
/// # Errors
/// [`ApiError::InvalidBody`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        ApiError::InvalidBody {
            path,
            message: e.into_inner().to_string(),
        }
    })
}

fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::RuleDoc;

    #[test]
    fn syntax_errors_carry_their_position() {
        let err = parse::<RuleDoc>(b"{\n  \"id\": \"x\",\n  oops\n}", 1024).unwrap_err();
        assert_eq!(err.code(), "invalid_json");
        assert!(err.to_string().contains("line 3 column 3"), "{err}");
    }

    #[test]
    fn shape_errors_carry_their_path() {
        let body = br#"{"id": "r", "priority": 1, "entries": ["e"], "conditions": {"country": {"in": ["IN"], "bogus": 1}}}"#;
        let err = parse::<RuleDoc>(body, 1024).unwrap_err();
        assert_eq!(err.code(), "invalid_body");
        match err {
            ApiError::InvalidBody { path, message } => {
                assert_eq!(path, "$.conditions.country.bogus");
                assert!(message.contains("unknown field `bogus`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err = parse::<RuleDoc>(br#"{"id": "r", "priority": "high", "entries": []}"#, 1024)
            .unwrap_err();
        assert!(
            matches!(err, ApiError::InvalidBody { ref path, .. } if path == "$.priority"),
            "{err:?}"
        );
    }

    /// Regression: serde accepts a struct written as a JSON array, so `["x.example"]` was
    /// taken as a domain body.
    #[test]
    fn only_objects_are_bodies() {
        for body in [&b"[\"array-body.example\"]"[..], b"42", b"\"s\"", b"null"] {
            let err = parse::<crate::api::ops::AddDomain>(body, 1024).unwrap_err();
            assert!(
                matches!(err, ApiError::InvalidBody { ref path, .. } if path == "$"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn limits_and_empty_bodies() {
        assert_eq!(
            parse::<RuleDoc>(&[b' '; 2000], 1000).unwrap_err(),
            ApiError::BodyTooLarge(1000)
        );
        assert_eq!(
            parse::<RuleDoc>(b"  ", 1000).unwrap_err().code(),
            "invalid_json"
        );
    }
}
