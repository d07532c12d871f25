//! Request bodies: size limit, JSON syntax errors with their line and column, shape
//! errors (unknown fields, wrong types) with their JSON path.

use std::fmt;

use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Why a body could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit (bytes). 413 `body_too_large`.
    TooLarge(usize),
    /// Not JSON, with where. 400 `invalid_json`.
    NotJson(String),
    /// JSON of the wrong shape, or a field that is wrong. 400 `invalid_body`.
    Shape {
        /// JSON path of the problem.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl BodyError {
    /// A field that is wrong.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Shape {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(limit) => write!(f, "request bodies are limited to {limit} bytes"),
            Self::NotJson(why) => write!(f, "the body is not valid JSON: {why}"),
            Self::Shape { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge(limit) => ApiError::BodyTooLarge(limit),
            BodyError::NotJson(why) => ApiError::InvalidJson(why),
            BodyError::Shape { path, message } => ApiError::InvalidBody { path, message },
        }
    }
}

/// The default body limit (64 KiB); the edge reads `API_MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// How many bytes past the limit a refused body is still read (and dropped, never kept)
/// before the answer, so that a modest overrun leaves the connection reusable: workerd
/// cannot reuse a connection whose request body was read only in part (under `wrangler
/// dev` the next request on it failed with the proxy's 503). Past this, reading stops at
/// once and the rest is cancelled: 1 MiB, sixteen times the default limit.
pub const DISCARD_ALLOWANCE_BYTES: usize = 1 << 20;

/// What to do with the next chunk of a body (decided from its length, before it is copied
/// anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Within the limit: keep it ([`CappedBody::push`]).
    Keep,
    /// Past the limit, within [`DISCARD_ALLOWANCE_BYTES`]: drop it and read on.
    Discard,
    /// Past the allowance: stop reading (cancel the rest) and answer.
    Stop,
}

/// A request body read chunk by chunk, never kept past the limit, whether or not
/// `Content-Length` was declared (chunked transfer encoding). The edge asks [`Self::take`]
/// about each chunk's length before copying it, and [`Self::finish`] gives the body or
/// 413. A declared length over the limit is refused before any of it is read
/// ([`crate::api::service::Api::admit`]).
#[derive(Debug)]
pub struct CappedBody {
    limit: usize,
    bytes: Vec<u8>,
    seen: usize,
}

impl CappedBody {
    /// An empty body that may grow to `limit` bytes.
    pub fn new(limit: usize) -> Self {
        CappedBody {
            limit,
            bytes: Vec::new(),
            seen: 0,
        }
    }

    /// What to do with a chunk of `len` bytes; counts it as read unless the answer is
    /// [`Take::Stop`].
    pub fn take(&mut self, len: usize) -> Take {
        let seen = self.seen.saturating_add(len);
        if seen <= self.limit {
            self.seen = seen;
            Take::Keep
        } else if seen <= self.limit.saturating_add(DISCARD_ALLOWANCE_BYTES) {
            self.seen = seen;
            Take::Discard
        } else {
            Take::Stop
        }
    }

    /// Keeps a chunk [`Self::take`] said to keep.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.bytes.len());
        self.bytes.extend(chunk.iter().take(room));
    }

    /// The body, once it is over (read to its end, or stopped).
    ///
    /// # Errors
    /// [`BodyError::TooLarge`] when it passed the limit.
    pub fn finish(self, stopped: bool) -> Result<Vec<u8>, BodyError> {
        if stopped || self.seen > self.limit {
            return Err(BodyError::TooLarge(self.limit));
        }
        Ok(self.bytes)
    }
}

/// Parses a JSON body into `T`.
///
/// # Errors
/// [`BodyError::TooLarge`], [`BodyError::NotJson`] (syntax, with line and column) or
/// [`BodyError::Shape`] (with the JSON path, e.g. `conditions.country.in[0]`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, BodyError> {
    if bytes.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::NotJson(
            "the body is empty; send a JSON object".into(),
        ));
    }
    // Syntax first, so a syntax error is reported as such with its position.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        BodyError::NotJson(format!(
            "{} at line {} column {}",
            describe(&e),
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(BodyError::at("$", "expected a JSON object"));
    }
    from_value(whole_numbers(value))
}

/// Writes whole numbers written as decimals (`5.0`, `1e3`) as integers, so an integer
/// field takes them as JSON Schema's `integer` does; other numbers are left as they are.
fn whole_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let whole = f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0;
            match (whole, f >= 0.0) {
                (true, true) => Value::from(f as u64),
                (true, false) => Value::from(f as i64),
                (false, _) => Value::Number(n),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, whole_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Parses an optional body: empty (or whitespace) is `T::default()`.
///
/// # Errors
/// As [`parse`].
pub fn parse_optional<T: DeserializeOwned + Default>(
    bytes: &[u8],
    limit: usize,
) -> Result<T, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse(bytes, limit)
    }
}

/// Converts a parsed JSON value into `T`, reporting the JSON path of a shape error.
///
/// # Errors
/// [`BodyError::Shape`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, BodyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        BodyError::Shape {
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

    fn code(e: BodyError) -> super::super::error::ErrorCode {
        ApiError::from(e).code()
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let err = parse::<RuleDoc>(b"{\n  \"id\": \"x\",\n  oops\n}", 1024).unwrap_err();
        assert!(err.to_string().contains("line 3 column 3"), "{err}");
        assert_eq!(code(err), "invalid_json");
    }

    #[test]
    fn shape_errors_carry_their_path() {
        let body = br#"{"id": "r", "priority": 1, "entries": ["e"], "conditions": {"country": {"in": ["IN"], "bogus": 1}}}"#;
        let err = parse::<RuleDoc>(body, 1024).unwrap_err();
        match err {
            BodyError::Shape { path, message } => {
                assert_eq!(path, "$.conditions.country.bogus");
                assert!(message.contains("unknown field `bogus`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err = parse::<RuleDoc>(br#"{"id": "r", "priority": "high", "entries": []}"#, 1024)
            .unwrap_err();
        assert!(
            matches!(err, BodyError::Shape { ref path, .. } if path == "$.priority"),
            "{err:?}"
        );
    }

    /// Regression: serde accepts a struct written as a JSON array, so `["x.example"]` was
    /// taken as a domain body.
    #[test]
    fn only_objects_are_bodies() {
        for body in [&b"[\"array-body.example\"]"[..], b"42", b"\"s\"", b"null"] {
            let err = parse::<crate::api::domains::AddDomain>(body, 1024).unwrap_err();
            assert!(
                matches!(err, BodyError::Shape { ref path, .. } if path == "$"),
                "{err:?}"
            );
        }
    }

    /// Regression (Schemathesis): `{"ttl_seconds": 37807.0}` is an integer to JSON Schema
    /// but serde refused it for an integer field.
    #[test]
    fn whole_decimals_are_integers() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            n: u8,
            i: i64,
            f: f64,
        }
        let t: T = parse(br#"{"n": 39.0, "i": -1e3, "f": 2.5}"#, 1024).unwrap();
        assert_eq!((t.n, t.i, t.f), (39, -1000, 2.5));
        assert!(parse::<T>(br#"{"n": 39.5, "i": 1, "f": 1}"#, 1024).is_err());
    }

    /// Reads a body of these chunk lengths as the edge does; what it kept or why not,
    /// and how many chunks it read.
    fn read(limit: usize, chunks: &[usize]) -> (Result<Vec<u8>, BodyError>, usize) {
        let mut body = CappedBody::new(limit);
        for (i, len) in chunks.iter().enumerate() {
            match body.take(*len) {
                Take::Keep => body.push(&vec![b'a'; *len]),
                Take::Discard => {}
                Take::Stop => return (body.finish(true), i),
            }
        }
        (body.finish(false), chunks.len())
    }

    #[test]
    fn a_capped_body_keeps_nothing_past_the_limit_and_stops_past_the_allowance() {
        assert_eq!(
            read(10, &[4, 0, 6]),
            (Ok(vec![b'a'; 10]), 3),
            "exactly the limit"
        );
        assert_eq!(read(10, &[]), (Ok(Vec::new()), 0));
        assert_eq!(
            read(10, &[4, 7, 3]),
            (Err(BodyError::TooLarge(10)), 3),
            "a modest overrun is read to its end and dropped"
        );
        let big = DISCARD_ALLOWANCE_BYTES / 2;
        assert_eq!(
            read(10, &[4, big, big, big, big]),
            (Err(BodyError::TooLarge(10)), 3),
            "past the allowance reading stops: the fourth chunk is never read"
        );
        assert_eq!(read(10, &[usize::MAX]), (Err(BodyError::TooLarge(10)), 0));
        let mut body = CappedBody::new(10);
        assert_eq!(body.take(64 * 1024), Take::Discard);
        assert!(
            body.bytes.is_empty(),
            "nothing of a chunk over the limit is kept"
        );
    }

    #[test]
    fn limits_and_empty_bodies() {
        assert_eq!(
            parse::<RuleDoc>(&[b' '; 2000], 1000).unwrap_err(),
            BodyError::TooLarge(1000)
        );
        assert_eq!(
            code(parse::<RuleDoc>(b"  ", 1000).unwrap_err()),
            "invalid_json"
        );
    }
}
