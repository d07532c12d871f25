//! The edge layer (wasm only): turns requests into facts, reads KV and D1, and renders the
//! core's decisions and results as responses. Nothing here decides anything.

mod api;
mod cron;
mod d1;
mod doh;
mod faults;
mod redirect;
mod respond;
mod settings;
mod store;
mod ui;
mod visitor;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::model::ids::is_valid_slug;

/// The Worker's fetch handler: a router over four path shapes (the console and preview
/// pages, the API, visitor entries, health), nothing more.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let request_id = respond::request_id();
    let path = req.path();
    // Visitor paths are matched case-insensitively and with a trailing slash tolerated:
    // links get retyped and upper-cased in print. Handles and slugs are lower-case.
    let lowered = path.to_ascii_lowercase();
    let trimmed = lowered.trim_start_matches('/');
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let segments: Vec<&str> = trimmed.split('/').collect();
    match (req.method(), segments.as_slice()) {
        (_, ["v2", ..]) => Ok(api::handle(req, &env, &request_id).await),
        (Method::Get | Method::Head, [mount, rest @ ..]) if ui::serves(mount, rest) => {
            ui::handle(mount, rest, &request_id)
        }
        (Method::Get | Method::Head, [handle, slug])
            if is_valid_slug(handle) && is_valid_slug(slug) =>
        {
            Ok(redirect::handle(&req, &env, handle, slug, &request_id).await)
        }
        (Method::Get | Method::Head, [""] | ["healthz"]) => {
            Ok(respond::text(200, "edge-router: ok\n", &request_id))
        }
        _ => Ok(respond::not_found(&request_id)),
    }
}
