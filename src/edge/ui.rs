//! The marketer console (`GET /console`) and the route preview (`GET /preview`, the same
//! console opened on its preview view alone): plain HTML, CSS and JavaScript modules,
//! no build step and no external resource. The files are the worker's static assets
//! (`[assets]` in wrangler.toml: `src/edge/ui`, uploaded beside the worker rather than
//! compiled into the wasm module, which keeps ~50 KB gzipped out of the module every
//! isolate compiles); the worker runs first for every request and reads them through the
//! `ASSETS` binding, so only the files listed here are served, with the headers below. The pages hold no
//! data and no secret: the person pastes a management token (kept in `sessionStorage`
//! only) and the page calls this origin's API with it.
//!
//! The JavaScript is ES modules under `ui/js/` (see `ui/js/main.js`), loaded with
//! `<script type="module">` and relative imports; each one is a row of [`ASSETS`], served
//! under both mounts. The page links its stylesheet and entry module under the mount it
//! was requested at (`{{base}}` in `ui/index.html`); the modules decide the rest.
//!
//! Served with `Cache-Control: no-store`, a strict Content-Security-Policy (scripts and
//! styles from this origin only, which is why the JS and CSS are files of their own),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

use worker::{Env, Response, ResponseBuilder, Result};

use super::respond::{self, base_headers};

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// A row of [`ASSETS`]: the file `ui/<path>`, served at `/console/<path>` and `/preview/<path>`.
macro_rules! ui_file {
    ($path:literal, $content_type:expr) => {
        ($path, $content_type, $path)
    };
}

/// Every file of the page: its path under the mount (`""` is the page itself), its
/// content type and its file under `src/edge/ui`. Paths are lower case: the router
/// lower-cases the request path before it gets here. A module the page imports but this
/// table lacks is a 404 (the browser tests load every view).
const ASSETS: &[(&str, &str, &str)] = &[
    ("", HTML, "index.html"),
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
    ui_file!("js/access.js", JS),
    ui_file!("js/actions.js", JS),
    ui_file!("js/diff.js", JS),
    ui_file!("js/order.js", JS),
    ui_file!("js/router.js", JS),
    ui_file!("js/views/domain-manager.js", JS),
    ui_file!("js/views/rules.js", JS),
    ui_file!("js/views/rule-editor.js", JS),
    ui_file!("js/views/templates.js", JS),
    ui_file!("js/views/campaigns.js", JS),
    ui_file!("js/views/campaign-form.js", JS),
    ui_file!("js/views/results.js", JS),
    ui_file!("js/views/pages.js", JS),
    ui_file!("js/views/history.js", JS),
    ui_file!("js/views/support.js", JS),
];

/// Where the page is served: the whole console, or the preview view alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mount {
    /// `/console`.
    Console,
    /// `/preview`.
    Preview,
}

impl Mount {
    /// The mount a first path segment names.
    fn of(segment: &str) -> Option<Self> {
        match segment {
            "console" => Some(Mount::Console),
            "preview" => Some(Mount::Preview),
            _ => None,
        }
    }

    fn base(self) -> &'static str {
        match self {
            Mount::Console => "/console",
            Mount::Preview => "/preview",
        }
    }
}

/// The page's Content-Security-Policy: nothing but this origin, no framing, no `<base>`.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// The file a path under a mount names (`rest`: its segments after the mount), as its
/// content type and file.
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

/// Whether `mount` (a first path segment) is a mount and `rest` (the segments after it)
/// a file of the page.
pub(crate) fn serves(mount: &str, rest: &[&str]) -> bool {
    Mount::of(mount).is_some() && asset(rest).is_some()
}

/// Serves the page or one of its assets under `mount`; 404 for anything else.
pub(crate) async fn handle(
    env: &Env,
    mount: &str,
    rest: &[&str],
    request_id: &str,
) -> Result<Response> {
    let (Some(mount), Some((content_type, file))) = (Mount::of(mount), asset(rest)) else {
        return Ok(respond::not_found(request_id));
    };
    let body = match read(env, file).await {
        Ok(body) => body,
        Err(e) => {
            // A deployment without its assets: say so in the log, not to the visitor.
            worker::console_error!("console: {e}");
            return Ok(respond::text(
                500,
                "The console's files are missing from this deployment.\n",
                request_id,
            ));
        }
    };
    let body = if content_type == HTML {
        body.replace("{{base}}", mount.base())
    } else {
        body
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
        .fixed(body.into_bytes()))
}

/// One file of `src/edge/ui` through the `ASSETS` binding (the host is ignored).
async fn read(env: &Env, file: &str) -> Result<String> {
    let url = format!("https://assets.invalid/{file}");
    let mut response = env.assets("ASSETS")?.fetch(url, None).await?;
    if response.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "static asset {file}: {} from the ASSETS binding",
            response.status_code()
        )));
    }
    response.text().await
}
