//! `/v2/...`: reads the request's head, lets [`crate::api::service::Api`] admit it,
//! reads the body only then (capped at the limit), and renders the answer. The API's
//! store is D1 and KV ([`super::d1::D1Store`]), its resolver DNS-over-HTTPS.

use chrono::{DateTime, Utc};
use worker::{Env, Request, Response};

use super::d1::D1Store;
use super::doh::DohResolver;
use super::respond;
use super::settings;
use super::visitor::{client_ip, header};
use crate::api::body::BodyError;
use crate::api::limits::client_tag;
use crate::api::service::{render, Admission, Api, ApiRequest};
use crate::api::store::StoreError;

/// Answers a `/v2/...` request. Never fails: errors are rendered by the API.
pub(crate) async fn handle(mut req: Request, env: &Env, request_id: &str) -> Response {
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
    let client = client_tag(client_ip(req.headers(), &settings));
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
                read_body(&mut req, settings.api.max_body_bytes).await
            } else {
                Ok(Vec::new())
            };
            api.respond(&head, admitted, body, now, respond::random_bytes())
                .await
        }
    };
    respond::render(answer)
}

/// Reads the body (a declared length over the limit was refused at admission).
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, BodyError> {
    let bytes = req
        .bytes()
        .await
        .map_err(|_| BodyError::NotJson("the body could not be read".into()))?;
    if bytes.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(bytes)
}
