//! Turning answers into responses, and the platform's clock and randomness. Every
//! response carries the base headers of [`crate::visit::answer::base_headers`].

use worker::{Headers, Response, ResponseBuilder, Result};

use crate::model::ids::{self, RandomPool};
use crate::visit::answer::{self, Answer};
use crate::visit::plan::Plan;

/// A fresh request id: 128 random bits in hex (all zeros if the random source failed: a
/// request id is a label for support, not a secret, and the zeros say what happened).
pub(crate) fn request_id() -> String {
    hex(&random_bytes::<16>().unwrap_or_default())
}

/// Random bytes from the platform's CSPRNG; `None` when it failed (workerd's
/// `crypto.getRandomValues` should not). Callers that mint ids or tokens refuse to go on
/// without them (`visit::plan`, `Api::respond`).
///
/// The bytes are taken from a per-isolate pool that one `crypto.getRandomValues` call fills
/// with [`RandomPool::BYTES`] at a time: each call into JavaScript costs a visit more than the
/// bytes themselves (a visit takes 32). Every byte is the platform's own output, handed
/// out once and wiped from the pool as it is taken; a failed refill hands out nothing.
pub(crate) fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let taken = POOL.with(|pool| pool.borrow_mut().take::<N, _>(getrandom::getrandom));
    match taken {
        Ok(bytes) => Some(bytes),
        Err(Some(e)) => {
            worker::console_error!("getrandom failed: {e}");
            None
        }
        Err(None) => fresh::<N>(),
    }
}

thread_local! {
    static POOL: std::cell::RefCell<RandomPool> = const { std::cell::RefCell::new(RandomPool::new()) };
}

/// `N` bytes straight from the platform, for a request larger than the pool.
fn fresh<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => Some(bytes),
        Err(e) => {
            worker::console_error!("getrandom failed: {e}");
            None
        }
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    ids::hex(bytes)
}

/// The current time in milliseconds since the epoch.
pub(crate) fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// Headers every response gets.
pub(crate) fn base_headers(request_id: &str) -> Result<Headers> {
    headers_of(&answer::base_headers(request_id))
}

fn headers_of(pairs: &[(&'static str, String)]) -> Result<Headers> {
    let headers = Headers::new();
    for (name, value) in pairs {
        headers.append(name, value)?;
    }
    Ok(headers)
}

/// Renders an answer; an answer that cannot be rendered becomes an empty 500.
pub(crate) fn render(answer: Answer) -> Response {
    let built = headers_of(&answer.headers).map(|headers| {
        let builder = ResponseBuilder::new()
            .with_status(answer.status)
            .with_headers(headers);
        if answer.body.is_empty() {
            builder.empty()
        } else {
            builder.fixed(answer.body)
        }
    });
    built.unwrap_or_else(|_| Response::builder().with_status(500).empty())
}

/// A plain-text response.
pub(crate) fn text(status: u16, body: &str, request_id: &str) -> Response {
    render(Answer::new(request_id).text(status, body))
}

/// 404 for a path that is no route, handle or entry.
pub(crate) fn not_found(request_id: &str) -> Response {
    render(Plan::NotFound { version: None }.answer(request_id))
}
