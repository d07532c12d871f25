//! The exposure producer: hands serialised exposure messages
//! ([`crate::visit::exposure::Exposure::to_message`]) to the `EXPOSURES` queue after the
//! response has gone (`waitUntil`). The visitor never waits for it, and nothing here can
//! change the answer: a missing binding or a failed send is logged, never an error.
//! Whatever calls it (today the Rust visitor path, later the JavaScript fast path)
//! passes the messages as they are.

use std::cell::Cell;

use worker::wasm_bindgen::JsValue;
use worker::{Context, Env, QueueContentType, RawMessageBuilder};

/// The queue binding exposures go to.
pub(crate) const BINDING: &str = "EXPOSURES";

thread_local! {
    /// Whether the missing binding was logged already in this isolate.
    static MISSING_LOGGED: Cell<bool> = const { Cell::new(false) };
}

/// Sends `messages` (each one JSON text, sent as content type `text`) to the queue once
/// the response is out; does nothing for none.
pub(crate) fn send_after_response(env: &Env, ctx: &Context, messages: Vec<String>) {
    if messages.is_empty() {
        return;
    }
    let queue = match env.queue(BINDING) {
        Ok(queue) => queue,
        Err(e) => {
            if !MISSING_LOGGED.with(|logged| logged.replace(true)) {
                worker::console_error!(
                    "exposures: no {BINDING} queue binding ({e}); exposures are not recorded"
                );
            }
            return;
        }
    };
    ctx.wait_until(async move {
        let count = messages.len();
        let built: Vec<_> = messages
            .iter()
            .map(|m| {
                RawMessageBuilder::new(JsValue::from_str(m))
                    .build_with_content_type(QueueContentType::Text)
            })
            .collect();
        let sent = match <[_; 1]>::try_from(built) {
            Ok([one]) => queue.send_raw(one).await,
            Err(many) => queue.send_raw_batch(many).await,
        };
        if let Err(e) = sent {
            worker::console_error!("exposures: sending {count} to the queue failed: {e}");
        }
    });
}
