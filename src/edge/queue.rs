//! The exposure queue's consumer (`[[queues.consumers]]` in wrangler.toml): reads each
//! message's body as text, lets [`crate::api::exposures::consume`] write the batch to D1
//! and decide each message's fate, and applies it: ack, retry after
//! [`RETRY_DELAY_SECONDS`], or dead-letter (sent to `EXPOSURES_DLQ`, then acked; if that
//! send fails, retried, so `max_retries` dead-letters it all the same). One log line per
//! batch; `wrangler tail` shows it.

use worker::js_sys::JSON;
use worker::wasm_bindgen::JsValue;
use worker::{
    event, Context, Env, MessageBatch, MessageExt, QueueContentType, QueueRetryOptionsBuilder,
    RawMessage, RawMessageBuilder,
};

use super::d1::D1Store;
use super::faults;
use super::respond;
use super::settings;
use crate::api::exposures::{consume, Verdict};

/// The binding of the dead-letter queue (also the consumer's `dead_letter_queue`).
const DEAD_LETTERS: &str = "EXPOSURES_DLQ";
/// How long a message waits before it is delivered again after a storage failure.
const RETRY_DELAY_SECONDS: u32 = 30;

/// A message body as text: a string as it is, anything else as JSON (a producer that
/// sent an object); `None` when it is neither.
fn text_of(body: &JsValue) -> Option<String> {
    body.as_string()
        .or_else(|| JSON::stringify(body).ok().and_then(|s| s.as_string()))
}

fn retry(message: &RawMessage) {
    let later = QueueRetryOptionsBuilder::new()
        .with_delay_seconds(RETRY_DELAY_SECONDS)
        .build();
    message.retry_with_options(&later);
}

/// Consumes one batch of exposure messages.
#[event(queue)]
async fn queue(
    batch: MessageBatch<serde_json::Value>,
    env: Env,
    _ctx: Context,
) -> worker::Result<()> {
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    let store = match (env.d1("DB"), env.kv("CONFIG")) {
        (Ok(db), Ok(kv)) => D1Store { db, kv },
        _ => {
            worker::console_error!(
                "exposures: the DB or CONFIG binding is missing; retrying the batch later"
            );
            messages.iter().for_each(retry);
            return Ok(());
        }
    };
    let settings = settings::get(&env);
    let bodies: Vec<Option<String>> = messages.iter().map(|m| text_of(&m.body())).collect();
    let texts: Vec<Option<&str>> = bodies.iter().map(Option::as_deref).collect();
    let now_ms = respond::now_ms() as i64;
    let consumed = consume(&store, &texts, now_ms, settings.exposure_dedupe_seconds).await;
    let dead_letters = env.queue(DEAD_LETTERS).ok();
    let withheld = consumed.recorded.is_some() && faults::withhold_exposure_acks();
    if withheld {
        worker::console_warn!(
            "FAULTS: exposure_redeliver: a written batch of {} is not acknowledged; the queue delivers it again",
            messages.len()
        );
    }
    let mut parked = 0;
    for ((message, verdict), body) in messages.iter().zip(&consumed.verdicts).zip(&bodies) {
        match verdict {
            Verdict::Ack if withheld => message.retry(),
            Verdict::Ack => message.ack(),
            Verdict::Retry => retry(message),
            Verdict::DeadLetter(poison) => {
                let snippet: String = body.as_deref().unwrap_or("?").chars().take(200).collect();
                worker::console_error!(
                    "exposures: message {} is poison ({poison}): {snippet:?}",
                    message.id()
                );
                let sent = match &dead_letters {
                    Some(queue) => {
                        let (value, kind) = match body {
                            Some(text) => (JsValue::from_str(text), QueueContentType::Text),
                            None => (message.body(), QueueContentType::V8),
                        };
                        queue
                            .send_raw(RawMessageBuilder::new(value).build_with_content_type(kind))
                            .await
                            .map_err(|e| e.to_string())
                    }
                    None => Err(format!("no {DEAD_LETTERS} binding")),
                };
                match sent {
                    Ok(()) => {
                        parked += 1;
                        message.ack();
                    }
                    Err(e) => {
                        worker::console_error!("exposures: dead-lettering failed ({e}); retrying it, max_retries will park it");
                        retry(message);
                    }
                }
            }
        }
    }
    let recorded = consumed.recorded.unwrap_or_default();
    worker::console_log!(
        "exposures: batch of {}: {} written ({} new visits, {} new visitors), {} to retry{}, {} dead-lettered",
        messages.len(),
        consumed.count(|v| *v == Verdict::Ack),
        recorded.visits,
        recorded.visitors,
        consumed.count(|v| *v == Verdict::Retry),
        consumed
            .failure
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
        parked
    );
    Ok(())
}
