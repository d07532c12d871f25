use super::*;
use crate::api::auth::{new_pat, PatRecord};
use crate::api::memory::{FixedResolver, MemoryStore};

/// Issue 10: the edge used to pass zeros when its random source failed, so ids and tokens
/// were minted from them. Without random bytes an admitted request stores nothing: 503.
#[test]
fn without_random_bytes_a_write_is_503_and_nothing_is_stored() {
    let store = MemoryStore::new();
    let token = new_pat(&[7; 32]);
    store.tables.borrow_mut().pats.insert(
        pat_hash(&token),
        PatRecord {
            handle: "gharart".into(),
            scopes: "admin".into(),
            sub: "tests".into(),
            expires_at: None,
            revoked: false,
        },
    );
    let auth = format!("Bearer {token}");
    let body = br#"{"summary": "broken", "details": "nothing routes", "handle": "gharart"}"#;
    let req = ApiRequest {
        method: "POST",
        path: "/v2/support/report",
        query: "",
        authorization: Some(&auth),
        idempotency_key: None,
        content_length: Some(body.len() as u64),
        client: "c",
        request_id: "r",
    };
    let settings = ApiSettings::default();
    let api = Api {
        store: &store,
        resolver: &FixedResolver::default(),
        settings: &settings,
        log: &|_| {},
    };
    let now = "2026-11-22T10:00:00Z".parse().unwrap();
    let respond = |random| {
        pollster::block_on(async {
            let Admission::Admitted(admitted) = api.admit(&req, now).await else {
                panic!("admitted")
            };
            api.respond(&req, admitted, Ok(body.to_vec()), now, random)
                .await
        })
    };
    let answer = respond(None);
    assert_eq!(answer.status, 503);
    let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(error["error"]["code"], "storage_unavailable");
    assert!(answer.get("Retry-After").is_some());
    assert!(store.tables.borrow().reports.is_empty(), "nothing stored");
    let answer = respond(Some([3; 16]));
    assert!(
        answer.status < 300,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(store.tables.borrow().reports.len(), 1);
}
