//! One visit rehearsed when an isolate starts (`#[event(start)]`, src/edge/hot.rs), before
//! any visitor: a small built-in handle is stored as a publisher stores it, loaded from its
//! edge form and visited by a campaign visitor with a ctx template, so the code a first
//! visit runs (the edge form's decoding, deciding, the URL, the template, the ctx token,
//! the cookie, the answer) has run once. The edge runs it through the very function a
//! visit calls (`hot_visit`'s body, on the rehearsal's own caches and settings, from
//! [`stored`] and the request constants here); the tests below visit it the same way at
//! the level of `visit::plan`, natively. A fresh isolate's first visitor then pays less
//! of V8's first-run costs (`make bench`'s cold start; measured about 4 ms of 30). Nothing
//! of it is kept: the handle is not the isolate's, no random byte or clock is read (the
//! platform forbids both at start-up), and a rehearsal that fails changes nothing.

use crate::engine::snapshot::Snapshot;
use crate::model::config::HandleConfig;

/// The rehearsal's handle: a campaign rule with a ctx template and a plain rule.
const HANDLE: &str = r#"{
  "handle": "rehearsal",
  "default_template": "utm",
  "entries": [{"slug": "sale", "default": "https://www.example.com/sale"}],
  "domains": [{"domain": "*.example.com", "verification": "verified", "risk_score": 1}],
  "templates": [{"id": "utm", "params": {"utm_source": "edge", "gh_rule": "{rule}", "gh_ctx": "{ctx}"}}],
  "campaigns": [{"id": "ab", "name": "Rehearsal", "status": "active", "start_date": "2026-01-01T00:00:00Z",
    "variants": [{"key": "a", "weight": 50, "destination": "https://a.example.com/sale"},
                 {"key": "b", "weight": 50, "destination": "https://b.example.com/sale"}]}],
  "rules": [
    {"id": "in-mobile", "priority": 10, "entries": ["sale"], "conditions": {"country": {"in": ["IN"]}, "device": {"in": ["mobile"]}}, "campaign": "ab"},
    {"id": "us", "priority": 20, "entries": ["sale"], "conditions": {"country": {"in": ["US"]}}, "destination": "https://us.example.com/sale"}
  ]
}"#;

/// The rehearsal's handle.
pub const HANDLE_NAME: &str = "rehearsal";
/// The entry visited.
pub const ENTRY: &str = "sale";
/// The visitor's query.
pub const QUERY: &str = "utm_campaign=diwali&ref=friend";
/// The visitor's `Accept-Language`.
pub const ACCEPT_LANGUAGE: &str = "en-IN,en;q=0.9";
/// The token secret of the rehearsal's settings (not a real one).
pub const TOKEN_SECRET: &str = "rehearsal-secret-not-a-real-one";
/// The rehearsal's clock: 2026-11-30T00:00:00Z, in milliseconds.
pub const NOW_MS: i64 = 1_795_996_800_000;

/// The rehearsal's User-Agent.
pub const USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

/// The built-in handle's snapshot as a publisher stores it (its JSON and edge form).
pub fn stored() -> Option<Vec<u8>> {
    let config: HandleConfig = serde_json::from_str(HANDLE).ok()?;
    Snapshot::new(config, 1, "2026-11-30T00:00:00Z".into())
        .to_stored()
        .ok()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::engine::geo::{GeoFacts, GeoSource};
    use crate::engine::ruleset::Outcome;
    use crate::engine::snapshot::{self, Published};
    use crate::visit::plan::{
        self, DeviceInput, GeoInput, HeldSnapshot, Plan, RequestParts, VisitSettings,
    };
    use crate::visit::user_agent::{classify, DeviceHeaders};

    /// The rehearsal at the level of [`plan::plan`]: the built-in handle loaded from its
    /// edge form and visited by an Indian phone, as the edge's rehearsal visits it; its plan
    /// (`None` only if the handle did not load).
    fn rehearse() -> Option<Plan> {
        let stored = stored()?;
        let Ok(Published::Live(loaded)) = snapshot::load(HANDLE_NAME, &stored) else {
            return None;
        };
        let headers = DeviceHeaders {
            user_agent: Some(USER_AGENT),
            ..DeviceHeaders::default()
        };
        let request = RequestParts {
            request_id: "00000000000000000000000000000000",
            entry: ENTRY,
            query: QUERY,
            cookie: None,
            accept_language: Some(ACCEPT_LANGUAGE),
            device: DeviceInput::Classified {
                headers,
                facts: classify(headers),
            },
            geo: GeoInput {
                cf: Some(GeoFacts::from_source(
                    Some("IN"),
                    Some("AS"),
                    Some("MH"),
                    Some("Mumbai"),
                    Some(55836),
                )),
                client_ip: None,
                mmdb: None,
                mmdb_answer: None,
            },
            head: false,
        };
        let settings = VisitSettings {
            geo_order: vec![GeoSource::Cf, GeoSource::Mmdb],
            token_secret: Some(TOKEN_SECRET.as_bytes().to_vec()),
            ctx_ttl_seconds: 3600,
            safe_fallback: None,
        };
        let now = DateTime::<Utc>::from_timestamp_millis(NOW_MS)?;
        let held = HeldSnapshot {
            loaded: &loaded,
            stale: false,
        };
        Some(plan::plan(held, &request, &settings, now, Some([7; 16])))
    }

    #[test]
    fn the_rehearsal_handle_is_clean() {
        let config: HandleConfig = serde_json::from_str(HANDLE).unwrap();
        assert_eq!(crate::engine::compile::validate(&config), vec![]);
    }

    #[test]
    fn the_rehearsal_is_a_whole_visit() {
        let Some(Plan::Redirect {
            location,
            outcome,
            set_cookie,
            ctx,
            exposure,
            ..
        }) = rehearse()
        else {
            panic!("the rehearsal did not redirect: {:?}", rehearse());
        };
        assert_eq!(outcome, Outcome::Rule);
        assert!(
            location.starts_with("https://a.example.com/sale?")
                || location.starts_with("https://b.example.com/sale?"),
            "{location}"
        );
        assert!(
            location.contains("gh_rule=in-mobile") && location.contains("gh_ctx="),
            "{location}"
        );
        assert!(set_cookie.is_some() && ctx.is_some() && exposure.is_some());
    }
}
