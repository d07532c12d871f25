//! `/v2/...`: reads the request's head, lets [`crate::api::service::Api`] admit it,
//! reads the body only then (chunk by chunk, never kept past the limit), and renders the
//! answer. The API's store is D1 and KV ([`super::d1::D1Store`]), its resolver
//! DNS-over-HTTPS.

use chrono::{DateTime, Utc};
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::ReadableStreamDefaultReader;
use worker::{Env, Headers, Request, Response};

use super::d1::D1Store;
use super::doh::DohResolver;
use super::respond;
use super::settings;
use crate::api::body::{BodyError, CappedBody, Take};
use crate::api::limits::client_tag;
use crate::api::service::{render, Admission, Api, ApiRequest};
use crate::api::store::StoreError;
use crate::visit::headers;

/// A header's value, if present and readable.
fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// Answers a `/v2/...` request. Never fails: errors are rendered by the API.
pub(crate) async fn handle(req: Request, env: &Env, request_id: &str) -> Response {
    let settings = settings::get(env);
    // The method as sent: workers-rs maps methods it does not know (QUERY, PROPFIND, ...)
    // to GET, which would answer them as GETs instead of 405.
    let method = req.inner().method();
    let path = req.path();
    let url = req.url().ok();
    let query = url.as_ref().and_then(|u| u.query()).unwrap_or_default();
    let authorization = header(req.headers(), "Authorization");
    let idempotency_key = header(req.headers(), "Idempotency-Key");
    let content_length =
        header(req.headers(), "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    let client = client_tag(headers::client_ip(
        header(req.headers(), "CF-Connecting-IP").as_deref(),
        header(req.headers(), "X-Forwarded-For").as_deref(),
        settings.trust_forwarded_ip,
    ));
    let head = ApiRequest {
        method: &method,
        path: &path,
        query,
        authorization: authorization.as_deref(),
        idempotency_key: idempotency_key.as_deref(),
        content_length,
        client: &client,
        request_id,
    };
    let log = |line: &str| worker::console_error!("{line}");
    let store = match (env.d1("DB"), env.kv("CONFIG")) {
        (Ok(db), Ok(kv)) => D1Store { db, kv },
        (db, kv) => {
            let missing = StoreError::Unavailable(format!(
                "bindings: DB {}, CONFIG {}",
                db.is_ok(),
                kv.is_ok()
            ));
            return respond::render(render(Err(missing.into()), &head, &log));
        }
    };
    let resolver = DohResolver {
        url: &settings.doh_resolver,
    };
    let api = Api {
        store: &store,
        resolver: &resolver,
        settings: &settings.api,
        log: &log,
    };
    let now_ms = respond::now_ms();
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default();
    let answer = match api.admit(&head, now).await {
        Admission::Answered(answer) => answer,
        Admission::Admitted(admitted) => {
            let body = if admitted.reads_body() {
                read_body(&req, settings.api.max_body_bytes).await
            } else {
                Ok(Vec::new())
            };
            api.respond(&head, admitted, body, now, respond::random_bytes())
                .await
        }
    };
    respond::render(answer)
}

/// Reads the body chunk by chunk into a [`CappedBody`], which decides from each chunk's
/// length, before it is copied into wasm memory, whether to keep it, drop it (a modest
/// overrun, read to its end so the connection stays reusable) or stop reading and cancel
/// the rest. A declared length over the limit was refused at admission; chunked bodies
/// have none.
async fn read_body(req: &Request, limit: usize) -> Result<Vec<u8>, BodyError> {
    let unreadable = |_| BodyError::NotJson("the body could not be read".into());
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = CappedBody::new(limit);
    loop {
        let Some(value) = next_chunk(&reader).await.map_err(unreadable)? else {
            return body.finish(false);
        };
        let chunk: Uint8Array = value.dyn_into().map_err(unreadable)?;
        match body.take(chunk.length() as usize) {
            Take::Keep => body.push(&chunk.to_vec()),
            Take::Discard => {}
            Take::Stop => {
                // Nothing more will be read (a refused cancel changes nothing).
                let _ = JsFuture::from(reader.cancel()).await;
                return body.finish(true);
            }
        }
    }
}

/// The next chunk of a stream, `None` at its end.
async fn next_chunk(reader: &ReadableStreamDefaultReader) -> Result<Option<JsValue>, JsValue> {
    let read = JsFuture::from(reader.read()).await?;
    let done = Reflect::get(&read, &JsValue::from_str("done"))?;
    if done.as_bool() != Some(false) {
        return Ok(None);
    }
    Reflect::get(&read, &JsValue::from_str("value")).map(Some)
}
