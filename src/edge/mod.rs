//! The edge layer (wasm only): turns requests into facts, reads KV and D1, and renders the
//! core's decisions and results as responses. Nothing here decides anything.
//!
//! Visitors never reach the `worker` crate's fetch handler: `entry.mjs` (the module entry)
//! sends them to [`hot::hot_visit`], one wasm call per visit. The API, the console and
//! preview pages and health come here.

mod api;
mod cron;
mod d1;
mod doh;
mod faults;
#[allow(
    unreachable_pub,
    reason = "wasm_bindgen exports must be pub; JavaScript calls them, not Rust"
)]
mod hot;
mod queue;
mod respond;
mod settings;
mod store;
mod ui;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::model::ids::is_valid_slug;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// The management API (`/v2/...`).
    Api,
    /// A file of the console (`/console/...`) or the preview page (`/preview/...`): the
    /// mount and the segments after it.
    Ui(String, Vec<String>),
    /// A visitor entry `/{handle}/{entry}`.
    Visit {
        /// The handle.
        handle: String,
        /// The entry slug.
        entry: String,
    },
    /// `/` and `/healthz`.
    Health,
    /// Anything else.
    NotFound,
}

/// Routes a path. Paths are matched lower-cased and with a trailing slash tolerated:
/// links get retyped and upper-cased in print; handles, slugs and the console's
/// files are lower-case. `read` is whether the method is `GET` or `HEAD` (the API takes
/// every method; the rest only reads).
pub(crate) fn route(read: bool, path: &str) -> Route {
    let lowered = path.to_ascii_lowercase();
    let trimmed = lowered.trim_start_matches('/');
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let segments: Vec<&str> = trimmed.split('/').collect();
    match segments.as_slice() {
        ["v2", ..] => Route::Api,
        _ if !read => Route::NotFound,
        [mount, rest @ ..] if ui::serves(mount, rest) => Route::Ui(
            (*mount).to_owned(),
            rest.iter().map(|s| (*s).to_owned()).collect(),
        ),
        [handle, entry] if is_valid_slug(handle) && is_valid_slug(entry) => Route::Visit {
            handle: (*handle).to_owned(),
            entry: (*entry).to_owned(),
        },
        [""] | ["healthz"] => Route::Health,
        _ => Route::NotFound,
    }
}

/// The `worker` crate's fetch handler: everything but visitors (see [`hot`]).
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let request_id = respond::request_id();
    let path = req.path();
    let read = matches!(req.method(), Method::Get | Method::Head);
    Ok(match route(read, &path) {
        Route::Api => api::handle(req, &env, &request_id).await,
        Route::Ui(mount, rest) => {
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            return ui::handle(&env, &mount, &rest, &request_id).await;
        }
        Route::Health => respond::text(200, "edge-router: ok\n", &request_id),
        // Visitors are answered by `hot::hot_visit` through `entry.mjs`; one that arrives
        // here did not come through the module entry.
        Route::Visit { .. } | Route::NotFound => respond::not_found(&request_id),
    })
}
