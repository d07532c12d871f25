//! The preview page (`GET /preview`): plain HTML, CSS and JavaScript modules embedded in
//! the worker, no build step and no external resource. The page holds no data and no
//! secret: the person pastes a management token (kept in `sessionStorage` only) and the
//! page calls the same-origin API with it: the rules listing (entries), a fresh preview
//! token, the explain trace of `/{handle}/{entry}?__preview=…&__explain=1`, the
//! route-preview matrix, the rule audit and the destination domains.
//!
//! The JavaScript is ES modules under `ui/js/` (see `ui/js/main.js`), loaded with
//! `<script type="module">` and relative imports; each one is a row of [`ASSETS`].
//!
//! Served with `Cache-Control: no-store`, a strict Content-Security-Policy (scripts and
//! styles from this origin only, which is why the JS and CSS are files of their own),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

use worker::{Response, ResponseBuilder, Result};

use super::respond::{self, base_headers};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// A row of [`ASSETS`]: the file `ui/<path>`, served at `/preview/<path>`.
macro_rules! ui_file {
    ($path:literal, $content_type:expr) => {
        ($path, $content_type, include_str!(concat!("ui/", $path)))
    };
}

/// Every file of the page: its path under `/preview/` (`""` is the page itself), its
/// content type and its text. Paths are lower case: the router lower-cases the request
/// path before it gets here. A module the page imports but this table lacks is a 404.
const ASSETS: &[(&str, &str, &str)] = &[
    ("", HTML, include_str!("ui/index.html")),
    ui_file!("app.css", CSS),
    ui_file!("js/main.js", JS),
    ui_file!("js/api.js", JS),
    ui_file!("js/state.js", JS),
    ui_file!("js/dom.js", JS),
    ui_file!("js/format.js", JS),
    ui_file!("js/panel.js", JS),
    ui_file!("js/session.js", JS),
    ui_file!("js/preview.js", JS),
    ui_file!("js/views/messages.js", JS),
    ui_file!("js/views/visitor-form.js", JS),
    ui_file!("js/views/result.js", JS),
    ui_file!("js/views/trace.js", JS),
    ui_file!("js/views/matrix.js", JS),
    ui_file!("js/views/audit.js", JS),
    ui_file!("js/views/domains.js", JS),
];

/// The page's Content-Security-Policy: nothing but this origin, no framing, no `<base>`.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// The file a path under `/preview` names (`rest`: its segments after `preview`), as its
/// content type and text.
fn asset(rest: &[&str]) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(path, _, _)| {
            path.split('/')
                .filter(|s| !s.is_empty())
                .eq(rest.iter().copied())
        })
        .map(|&(_, content_type, body)| (content_type, body))
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
