//! Response helpers: every response carries `X-Request-Id` and `Cache-Control: private,
//! no-store`; visitor pages are plain, self-contained HTML that links nowhere.

use serde::Serialize;
use worker::{Headers, Response, ResponseBuilder, Result};

/// A fresh request id: 128 random bits in hex.
pub(crate) fn request_id() -> String {
    hex(&random_bytes::<16>())
}

/// Random bytes from the platform's CSPRNG (all zero only if it failed, which workerd's
/// `crypto.getRandomValues` does not).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::getrandom(&mut bytes).is_err() {
        worker::console_error!("getrandom failed");
    }
    bytes
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The current time in milliseconds since the epoch.
pub(crate) fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// Headers every response gets.
pub(crate) fn base_headers(request_id: &str) -> Result<Headers> {
    let headers = Headers::new();
    headers.set("Cache-Control", "private, no-store")?;
    headers.set("X-Request-Id", request_id)?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Referrer-Policy", "strict-origin-when-cross-origin")?;
    Ok(headers)
}

/// A plain-text response.
pub(crate) fn text(status: u16, body: &str, request_id: &str) -> Result<Response> {
    let headers = base_headers(request_id)?;
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.as_bytes().to_vec()))
}

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: u16, value: &T, headers: Headers) -> Result<Response> {
    let body =
        serde_json::to_vec_pretty(value).map_err(|e| worker::Error::RustError(e.to_string()))?;
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body))
}

/// A 302 to `location` with the given headers.
pub(crate) fn redirect(location: &str, headers: Headers) -> Result<Response> {
    headers.set("Location", location)?;
    Ok(ResponseBuilder::new()
        .with_status(302)
        .with_headers(headers)
        .empty())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>TITLE</title>
<style>body{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}small{color:#555}</style>
</head><body><h1>TITLE</h1><p>MESSAGE</p><p><small>Reference: RID</small></p></body></html>
"#;

/// The worker's own safe page: nothing to follow, a reference for support.
pub(crate) fn page(
    status: u16,
    title: &str,
    message: &str,
    headers: Headers,
    request_id: &str,
) -> Result<Response> {
    let body = PAGE
        .replace("TITLE", title)
        .replace("MESSAGE", message)
        .replace("RID", request_id);
    headers.set("Content-Type", "text/html; charset=utf-8")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes()))
}

/// 404 for a path that is no route, handle or entry.
pub(crate) fn not_found(request_id: &str, snapshot_version: Option<u64>) -> Result<Response> {
    let headers = base_headers(request_id)?;
    if let Some(version) = snapshot_version {
        headers.set("X-Snapshot-Version", &version.to_string())?;
    }
    headers.set("X-Router-Outcome", "unknown_entry")?;
    page(
        404,
        "Link not found",
        "This link does not exist or is no longer active.",
        headers,
        request_id,
    )
}
