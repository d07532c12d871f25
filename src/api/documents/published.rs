//! Issue 10, through the whole API over the in-memory store: a published tombstone makes
//! the handle unknown to the API, and publications stay in the generation KV holds.

use chrono::{DateTime, Utc};

use super::*;
use crate::api::auth::{new_pat, pat_hash, PatRecord};
use crate::api::context::ApiSettings;
use crate::api::memory::{FixedResolver, MemoryStore};
use crate::api::service::{Api, ApiRequest};
use crate::engine::snapshot::{peek, Revision, Tombstone};
use crate::visit::answer::Answer;

const H: &str = "gharart";

fn festive() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    crate::model::files::load_dir(&dir).unwrap().0
}

fn now() -> DateTime<Utc> {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

/// A store with an admin PAT for the handle; its bearer header.
fn store() -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let token = new_pat(&[7; 32]);
    store.tables.borrow_mut().pats.insert(
        pat_hash(&token),
        PatRecord {
            handle: H.into(),
            scopes: "admin".into(),
            sub: "tests".into(),
            expires_at: None,
            revoked: false,
        },
    );
    (store, format!("Bearer {token}"))
}

fn publish(store: &MemoryStore, value: String) {
    store
        .tables
        .borrow_mut()
        .published
        .insert(H.into(), value.into_bytes());
}

fn published_revision(store: &MemoryStore) -> Revision {
    let tables = store.tables.borrow();
    peek(&tables.published[H]).unwrap().revision
}

fn call(store: &MemoryStore, auth: &str, method: &str, body: &str, key: &str) -> Answer {
    let path = format!("/v2/handles/{H}/configuration");
    let req = ApiRequest {
        method,
        path: &path,
        query: "",
        authorization: Some(auth),
        idempotency_key: (method == "PUT").then_some(key),
        content_length: Some(body.len() as u64),
        client: "c",
        request_id: "r",
    };
    let settings = ApiSettings::default();
    let api = Api {
        store,
        resolver: &FixedResolver::default(),
        settings: &settings,
        log: &|_| {},
    };
    pollster::block_on(api.handle(&req, body.as_bytes(), now(), [1; 16]))
}

fn code(answer: &Answer) -> String {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_write_publishes_in_the_generation_kv_holds() {
    let (store, auth) = store();
    let rolled_back = Snapshot::new(festive(), 5, "2026-11-22T09:00:00Z".into()).in_generation(2);
    publish(&store, rolled_back.to_json().unwrap());
    let config = serde_json::to_string(&festive()).unwrap();
    let answer = call(&store, &auth, "PUT", &config, "k1");
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        published_revision(&store),
        Revision {
            generation: 2,
            version: 6
        },
        "above the rollback, so running isolates that hold it take the write"
    );
}

#[test]
fn a_taken_down_handle_is_unknown_to_the_api_and_no_write_lifts_it() {
    let (store, auth) = store();
    publish(
        &store,
        Snapshot::new(festive(), 5, "2026-11-22T09:00:00Z".into())
            .to_json()
            .unwrap(),
    );
    let config = serde_json::to_string(&festive()).unwrap();
    assert_eq!(call(&store, &auth, "PUT", &config, "k1").status, 200);
    let tombstone = Tombstone::new(
        H,
        Revision {
            generation: 0,
            version: 1_795_000_000,
        },
        "2026-11-22T09:30:00Z".into(),
    )
    .to_json()
    .unwrap();
    publish(&store, tombstone.clone());
    for (method, body, key) in [("GET", "", ""), ("PUT", config.as_str(), "k2")] {
        let answer = call(&store, &auth, method, body, key);
        assert_eq!(
            (answer.status, code(&answer)),
            (404, "handle_not_found".to_owned()),
            "{method}"
        );
    }
    assert_eq!(
        store.tables.borrow().published[H],
        tombstone.into_bytes(),
        "the tombstone stays"
    );
}
