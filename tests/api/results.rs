//! `GET .../campaigns/{id}/results` over the in-memory store: exposures written by the
//! queue consumer's logic (`api::exposures::consume`), conversions through the public
//! route with ctx tokens, figures checked against the SciPy/statsmodels golden vectors of
//! `tests/vectors/stats`; the sample-ratio check in results and in health; scopes,
//! parameters and failures.

use edge_router::api::exposures::{consume, DEFAULT_DEDUPE_SECONDS};
use edge_router::visit::exposure::Exposure;
use serde_json::{json, Value};

use crate::harness::*;

const CAMPAIGN: &str = "diwali-hero-ab";

fn results_path(query: &str) -> String {
    format!("{V2}/campaigns/{CAMPAIGN}/results{query}")
}

fn vid(n: u64) -> String {
    format!("{n:032x}")
}

/// Lands one batch of exposures of `visitors` (first, last) to `variant`, each visiting
/// `visits` times, at the world's clock.
fn expose(w: &World, variant: &str, visitors: (u64, u64), visits: u64) {
    let at = w.now().timestamp_millis();
    let messages: Vec<String> = (visitors.0..=visitors.1)
        .flat_map(|n| {
            (0..visits).map(move |k| {
                Exposure {
                    id: format!("visit-{variant}-{n}-{k}-of-{visits}"),
                    handle: HANDLE.into(),
                    campaign: CAMPAIGN.into(),
                    variant: variant.into(),
                    visitor_id: vid(n),
                    at,
                }
                .to_message()
            })
        })
        .collect();
    for chunk in messages.chunks(100) {
        let bodies: Vec<Option<&str>> = chunk.iter().map(|m| Some(m.as_str())).collect();
        let out = pollster::block_on(consume(&w.store, &bodies, at, DEFAULT_DEDUPE_SECONDS));
        assert!(out.failure.is_none(), "{out:?}");
    }
}

fn convert(w: &World, variant: &str, visitor: u64, event: &str, key: &str) {
    let ctx = w.ctx(CAMPAIGN, variant, &vid(visitor));
    w.req("POST", "/v2/public/conversions")
        .key(key)
        .json(json!({"ctx": ctx, "event": event}))
        .send()
        .ok(201);
}

fn results(w: &World, query: &str) -> Value {
    w.get(&results_path(query), &pat("campaigns-read"))
        .ok(200)
        .clone()
}

fn variant<'v>(results: &'v Value, key: &str) -> &'v Value {
    results["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap()
}

fn close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!(
        (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
        "{what}: {g} vs {w}"
    );
}

#[test]
fn before_any_exposure_the_results_are_zeros_with_reasons_and_no_as_of() {
    let w = World::new();
    let out = results(&w, "");
    assert_eq!(out["campaign"], CAMPAIGN);
    assert_eq!(out["version"], 1);
    assert_eq!(out["as_of"], Value::Null);
    assert_eq!(out["control"], "control");
    assert_eq!(
        out["primary_event"],
        json!({"name": "purchase", "chosen_by": "default"})
    );
    assert_eq!(out["srm"]["reason"], "no_exposures");
    assert_eq!(out["srm"]["flagged"], false);
    let control = variant(&out, "control");
    assert_eq!(
        (
            control["exposed_visitors"].as_u64(),
            control["visits"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        control["events"]["purchase"]["reasons"]["rate"],
        "no_exposures"
    );
}

/// The golden vector `srm-close` (1000 vs 1060 exposed, 50 vs 61 converting), built from
/// exposures and conversions as they arrive, with noise that must not count: repeat
/// visits, a redelivered batch, a visitor converting twice on one event, test
/// conversions, another event.
#[test]
fn figures_match_the_golden_vector_built_from_real_exposures_and_conversions() {
    let w = World::new();
    let golden: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/vectors/stats/srm-close.json"),
        )
        .unwrap(),
    )
    .unwrap();
    expose(&w, "control", (1, 1000), 1);
    expose(&w, "story", (1001, 2060), 1);
    // Repeat visits add visits, not visitors; a redelivery adds nothing.
    expose(&w, "control", (1, 10), 2);
    expose(&w, "control", (1, 10), 2);
    w.advance(30);
    let landed = w.now();
    // A redelivery of one story visit: it counts nothing, but its batch landed.
    expose(&w, "story", (1001, 1001), 1);
    for n in 1..=50 {
        convert(&w, "control", n, "purchase", &format!("c-{n}"));
    }
    for n in 1001..=1061 {
        convert(&w, "story", n, "purchase", &format!("s-{n}"));
    }
    // Visitor 1 buys again: one converting visitor, two events.
    convert(&w, "control", 1, "purchase", "c-1-again");
    convert(&w, "story", 1001, "signup", "signup-1");
    w.req(
        "POST",
        &format!("{V2}/campaigns/{CAMPAIGN}/test-conversion"),
    )
    .pat("campaigns-write")
    .json(json!({"variant": "control", "event": "purchase"}))
    .send()
    .ok(201);
    w.advance(5);

    let out = results(&w, "");
    assert_eq!(
        out["as_of"],
        landed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "when the last batch landed"
    );
    assert_eq!(out["events"], json!(["purchase", "signup"]));
    assert_eq!(
        out["primary_event"],
        json!({"name": "purchase", "chosen_by": "default"})
    );
    for arm in golden["arms"].as_array().unwrap() {
        let key = arm["key"].as_str().unwrap();
        let got = variant(&out, key);
        assert_eq!(got["exposed_visitors"], arm["exposed_visitors"], "{key}");
        let purchase = &got["events"]["purchase"];
        assert_eq!(
            purchase["converting_visitors"], arm["converting_visitors"],
            "{key}"
        );
        close(&purchase["rate"], &arm["rate"], "rate");
        close(&purchase["interval"][0], &arm["interval"][0], "interval lo");
        close(&purchase["interval"][1], &arm["interval"][1], "interval hi");
        if key == "story" {
            close(&purchase["p_value"], &arm["p_value"], "p-value");
            close(
                &purchase["uplift"]["estimate"],
                &arm["uplift"]["estimate"],
                "uplift",
            );
            close(
                &purchase["uplift"]["interval"][0],
                &arm["uplift"]["interval"][0],
                "uplift lo",
            );
            let chance = purchase["chance_to_beat_control"].as_f64().unwrap();
            let want = arm["chance_to_beat_control"].as_f64().unwrap();
            assert!((chance - want).abs() < 1e-6, "chance {chance} vs {want}");
        }
    }
    let control = variant(&out, "control");
    assert_eq!(
        control["visits"], 1020,
        "1000 first visits and 20 repeats, once"
    );
    assert_eq!(
        control["events"]["purchase"]["events"], 51,
        "visitor 1 bought twice"
    );
    assert_eq!(control["events"]["signup"]["converting_visitors"], 0);
    assert_eq!(variant(&out, "story")["visits"], 1060);
    assert_eq!(variant(&out, "story")["events"]["signup"]["events"], 1);
    close(&out["srm"]["p_value"], &golden["srm"]["p_value"], "srm p");
    assert_eq!(out["srm"]["flagged"], false);
    assert_eq!(
        out["computed_from"]["events"],
        51 + 61 + 1,
        "no test conversion"
    );

    // ?event= headlines another event; every event is still reported.
    let signup = results(&w, "?event=signup");
    assert_eq!(
        signup["primary_event"],
        json!({"name": "signup", "chosen_by": "requested"})
    );
    assert_eq!(signup["events"], out["events"]);
}

#[test]
fn a_60_40_split_at_50_50_weights_is_flagged_in_results_and_in_health() {
    let w = World::new();
    expose(&w, "control", (1, 600), 1);
    expose(&w, "story", (601, 1000), 1);
    let out = results(&w, "");
    assert_eq!(out["srm"]["flagged"], true);
    assert_eq!(out["srm"]["chi_square"], 40.0);
    assert_eq!(
        out["srm"]["observed"],
        json!({"control": 600, "story": 400})
    );
    assert!(out["srm"]["p_value"].as_f64().unwrap() < 0.001);
    let health = w
        .get(
            &format!("{V2}/campaigns/{CAMPAIGN}/health"),
            &pat("campaigns-read"),
        )
        .ok(200)
        .clone();
    let check = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sample_ratio")
        .unwrap();
    assert_eq!(check["status"], "fail", "{check}");
    assert_eq!(health["status"], "fail");
    assert!(check["reason"]
        .as_str()
        .unwrap()
        .contains("sample-ratio mismatch"));
    // An even split passes.
    let even = World::new();
    expose(&even, "control", (1, 500), 1);
    expose(&even, "story", (501, 1000), 1);
    assert_eq!(results(&even, "")["srm"]["flagged"], false);
}

#[test]
fn scopes_parameters_unknown_campaigns_and_storage_failures() {
    let w = World::new();
    w.get(&results_path(""), &pat("rules-read"))
        .expect(403, "insufficient_scope");
    w.get(&results_path(""), &pat(OTHER_HANDLE))
        .expect(403, "wrong_handle");
    w.get(&results_path(""), &pat(ADMIN)).ok(200);
    for bad in ["?event=", "?event=Purchase", "?event=a%20b"] {
        w.get(&results_path(bad), &pat("campaigns-read"))
            .expect(400, "invalid_parameter");
    }
    w.get(
        &format!("{V2}/campaigns/nope/results"),
        &pat("campaigns-read"),
    )
    .expect(404, "campaign_not_found");
    w.store.faults.borrow_mut().unavailable = true;
    w.get(&results_path(""), &pat("campaigns-read"))
        .expect(503, "storage_unavailable");
}
