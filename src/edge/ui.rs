//! The preview page (`GET /preview`): plain HTML, CSS and JS embedded in the worker, no
//! build step and no external resource. The page holds no data and no secret: the person
//! pastes a management token (kept in `sessionStorage` only) and the page calls the
//! same-origin API with it: the rules listing (entries), a fresh preview token, the explain
//! trace of `/{handle}/{entry}?__preview=…&__explain=1`, the route-preview matrix, the rule
//! audit and the destination domains.
//!
//! Served with `Cache-Control: no-store`, a strict Content-Security-Policy (scripts and
//! styles from this origin only, which is why the JS and CSS are files of their own),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

use worker::{Response, ResponseBuilder, Result};

use super::respond::{self, base_headers};

const INDEX_HTML: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");

/// The page's Content-Security-Policy: nothing but this origin, no framing, no `<base>`.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// The file a path under `/preview` names (segments after `preview`, lower-cased):
/// the page itself, or one of its two assets.
fn asset(rest: &[&str]) -> Option<(&'static str, &'static str)> {
    match rest {
        [] => Some(("text/html; charset=utf-8", INDEX_HTML)),
        ["app.js"] => Some(("text/javascript; charset=utf-8", APP_JS)),
        ["app.css"] => Some(("text/css; charset=utf-8", APP_CSS)),
        _ => None,
    }
}

/// Whether `rest` (the path segments after `preview`) is a file of the page.
pub(crate) fn serves(rest: &[&str]) -> bool {
    asset(rest).is_some()
}

/// Serves the page or one of its assets; 404 for anything else.
pub(crate) fn handle(rest: &[&str], request_id: &str) -> Result<Response> {
    let Some((content_type, body)) = asset(rest) else {
        return Ok(respond::not_found(request_id));
    };
    let headers = base_headers(request_id)?;
    headers.set("Content-Type", content_type)?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Content-Security-Policy", CSP)?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("Cross-Origin-Opener-Policy", "same-origin")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(ResponseBuilder::new()
        .with_status(200)
        .with_headers(headers)
        .fixed(body.as_bytes().to_vec()))
}
