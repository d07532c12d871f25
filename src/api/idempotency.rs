//! `Idempotency-Key` on writes: the first request with a key reserves it, runs, and
//! stores its answer (unless it is a 5xx, which releases the key so a retry runs again);
//! a later request with the same key and the same request gets the stored answer with
//! `Idempotent-Replayed: true`; the same key with another request is 409
//! `idempotency_key_reuse`; while the first still runs, 409 `idempotency_in_progress`.
//! A reservation older than a minute (its request died) is taken over; records expire
//! after a day.

use sha2::{Digest, Sha256};

use super::context::Reply;
use super::error::{ApiError, ErrorCode};
use super::store::{IdempotencyRecord, Store};
use crate::model::ids::hex;

/// How long a reservation holds before a retry may take it over.
const STALE_AFTER: i64 = 60;
/// How long a key is remembered.
const KEPT_FOR: i64 = 24 * 3600;

/// Checks an `Idempotency-Key`'s form.
///
/// # Errors
/// 400 `invalid_parameter`: 1 to 255 printable ASCII characters.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidParameter {
            name: "Idempotency-Key",
            message: "1 to 255 printable ASCII characters".into(),
        });
    }
    Ok(())
}

/// The hash a key is bound to: method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex(&hasher.finalize())
}

/// The stored answer of a completed key for the same request; `None` when the key is
/// unknown or still reserved. A replayed error names this request's id, so it matches
/// `X-Request-Id`.
///
/// # Errors
/// 409 `idempotency_key_reuse` for another request under the same key; 500 for a
/// stored answer that does not read back.
pub fn replay(
    record: Option<IdempotencyRecord>,
    request_hash: &str,
    request_id: &str,
    now: i64,
) -> Result<Option<Reply>, ApiError> {
    // A key is remembered for a day; an older record is as good as none, whether or not
    // it has been swept yet.
    let Some(record) = record.filter(|r| r.created_at >= now - KEPT_FOR) else {
        return Ok(None);
    };
    if record.request_hash != request_hash {
        return Err(ApiError::Conflict {
            code: ErrorCode::IdempotencyKeyReuse,
            message: "this Idempotency-Key was used with another request body".into(),
        });
    }
    let Some((status, body)) = record.response else {
        return Ok(None);
    };
    let mut body: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| ApiError::Internal(format!("a stored idempotent answer: {e}")))?;
    if let Some(error) = body
        .get_mut("error")
        .and_then(serde_json::Value::as_object_mut)
    {
        error.insert("request_id".into(), request_id.into());
    }
    let mut reply = Reply::new(status, body);
    reply
        .headers
        .push(("Idempotent-Replayed", "true".to_owned()));
    Ok(Some(reply))
}

/// Where a write under a key stands before it runs.
#[derive(Debug)]
pub enum Reserved {
    /// The key is this request's now: run it.
    Run,
    /// The answer is already known (replayed).
    Answered(Reply),
}

/// Reserves `key` in `scope` for a request, or answers from what is stored.
///
/// # Errors
/// 409 `idempotency_key_reuse` / `idempotency_in_progress`; storage failures.
pub async fn reserve<S: Store>(
    store: &S,
    scope: &str,
    key: &str,
    request_hash: &str,
    now: i64,
    request_id: &str,
) -> Result<Reserved, ApiError> {
    let taken = store
        .reserve(
            scope,
            key,
            request_hash,
            now,
            now - STALE_AFTER,
            now - KEPT_FOR,
        )
        .await?;
    if taken {
        return Ok(Reserved::Run);
    }
    match replay(
        store.idempotency(scope, key).await?,
        request_hash,
        request_id,
        now,
    )? {
        Some(reply) => Ok(Reserved::Answered(reply)),
        None => Err(ApiError::Conflict {
            code: ErrorCode::IdempotencyInProgress,
            message: "a request with this Idempotency-Key is still running; retry".into(),
        }),
    }
}

/// Stores the outcome of a reserved key: the answer, unless it is a 5xx (then the key
/// is released so a retry runs again).
///
/// # Errors
/// Storage failures.
pub async fn settle<S: Store>(
    store: &S,
    scope: &str,
    key: &str,
    result: &Result<Reply, ApiError>,
    request_id: &str,
) -> Result<(), ApiError> {
    let (status, body) = match result {
        Ok(reply) => (reply.status, reply.body.to_string()),
        Err(e) if e.status() < 500 => (
            e.status(),
            serde_json::to_string(&e.body(request_id))
                .map_err(|e| ApiError::Internal(format!("serialising an error: {e}")))?,
        ),
        Err(_) => return Ok(store.release(scope, key).await?),
    };
    Ok(store.complete(scope, key, status, &body).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(check_key("7f1c-ab").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key("é").is_err());
    }

    #[test]
    fn the_request_hash_binds_method_path_and_body() {
        let a = request_hash("PUT", "/v2/x", b"{}");
        assert_ne!(a, request_hash("POST", "/v2/x", b"{}"));
        assert_ne!(a, request_hash("PUT", "/v2/y", b"{}"));
        assert_ne!(a, request_hash("PUT", "/v2/x", b"{ }"));
    }

    #[test]
    fn replays_only_the_same_request() {
        let record = |hash: &str, response: Option<(u16, String)>| {
            Some(IdempotencyRecord {
                request_hash: hash.to_owned(),
                response,
                created_at: 1000,
            })
        };
        assert_eq!(replay(None, "h", "r", 2000).unwrap(), None);
        assert_eq!(replay(record("h", None), "h", "r", 2000).unwrap(), None);
        let reply = replay(
            record("h", Some((201, r#"{"ok":1}"#.into()))),
            "h",
            "r",
            2000,
        )
        .unwrap()
        .unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(
            reply.headers,
            vec![("Idempotent-Replayed", "true".to_owned())]
        );
        let err = replay(record("h", None), "other", "r", 2000).unwrap_err();
        assert_eq!(err.code(), ErrorCode::IdempotencyKeyReuse);
        let stored = r#"{"error":{"code":"domain_exists","request_id":"first"}}"#;
        let reply = replay(record("h", Some((409, stored.into()))), "h", "second", 2000)
            .unwrap()
            .unwrap();
        assert_eq!(reply.body["error"]["request_id"], "second");
        let day_old = record("h", Some((201, "{}".into())));
        assert_eq!(
            replay(day_old, "other", "r", 1000 + KEPT_FOR + 1).unwrap(),
            None,
            "forgotten after a day"
        );
    }
}
