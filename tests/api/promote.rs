//! Promoting a campaign's winner (`POST .../campaigns/{id}/promote`, admin): the campaign
//! completes, its rules take the variant's destination, the history records it and a
//! restore undoes it.

use serde_json::{json, Value};

use crate::harness::*;
use crate::history::{change, restore, routes_to};

fn promote(w: &World, campaign: &str, variant: &str) -> Res {
    w.req("POST", &format!("{V2}/campaigns/{campaign}/promote"))
        .pat(ADMIN)
        .json(json!({ "variant": variant }))
        .send()
}

fn rule(w: &World, id: &str) -> Value {
    let config = serde_json::to_value(w.stored_config()).unwrap();
    config["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap()
}

const STORY: &str = "https://www.gharart.com/festive/diwali-hero-b";

#[test]
fn promoting_completes_the_campaign_and_routes_its_rule_to_the_variant() {
    let w = World::new();
    let res = promote(&w, "diwali-hero-ab", "story");
    let out = res.ok(200).clone();
    assert_eq!(out["version"], 2);
    assert_eq!(
        (&out["from"], &out["status"]),
        (&json!("active"), &json!("completed"))
    );
    assert_eq!(
        (&out["variant"], &out["destination"]),
        (&json!("story"), &json!(STORY))
    );
    assert_eq!(out["rules"], json!(["in-desktop-diwali-ab"]));
    assert_eq!(out["campaign"]["status"], "completed");
    assert_eq!(out["campaign"]["routed_by"], json!([]));
    assert_eq!(out["campaign"]["allowed_transitions"], json!([]));
    let r = rule(&w, "in-desktop-diwali-ab");
    assert_eq!(r["destination"], STORY);
    assert!(r.get("campaign").is_none());
    assert_eq!(
        r["conditions"]["country"]["in"],
        json!(["IN"]),
        "the rest stays"
    );
    // The router sends the rule's visitors to the winner.
    let (version, config) = w.published();
    assert_eq!(version, 2);
    let compiled = edge_router::engine::compile::compile(&config).unwrap();
    let preview = w
        .get(
            &format!("{V2}/route-preview?entry=festive&countries=IN&devices=desktop"),
            &pat(ADMIN),
        )
        .json;
    assert_eq!(preview["cells"][0]["rule"], "in-desktop-diwali-ab");
    assert_eq!(preview["cells"][0]["destination"], STORY);
    assert!(compiled
        .warnings
        .iter()
        .all(|d| d.id.as_deref() != Some("in-desktop-diwali-ab")));
    // Recorded, and undone by restoring the version before.
    let entry = change(&w, 2);
    assert_eq!(
        entry["route"],
        "POST /v2/handles/{handle}/campaigns/{campaignId}/promote"
    );
    assert_eq!(
        entry["summary"]["campaigns"]["changed"],
        json!(["diwali-hero-ab"])
    );
    assert_eq!(
        entry["summary"]["rules"]["changed"],
        json!(["in-desktop-diwali-ab"])
    );
    let fields = entry["diff"]["rules"]["changed"][0]["fields"]
        .as_array()
        .unwrap();
    assert!(fields.iter().any(|f| f["path"] == "$.campaign"
        && f["before"] == "diwali-hero-ab"
        && f.get("after").is_none()));
    restore(&w, 1).ok(200);
    assert_eq!(w.published().1, gharart());
    // Once completed it cannot be promoted again.
    restore(&w, 2).ok(200);
    promote(&w, "diwali-hero-ab", "control").expect(409, "invalid_transition");
}

#[test]
fn a_paused_campaign_can_be_promoted_and_refusals_change_nothing() {
    let w = World::new();
    promote(&w, "diwali-hero-ab", "nope").expect(404, "variant_not_found");
    promote(&w, "no-such", "story").expect(404, "campaign_not_found");
    // A draft, and a canceled campaign, are not promotable.
    w.req("POST", &format!("{V2}/campaigns"))
        .pat(ADMIN)
        .json(json!({"id": "draft", "name": "Draft", "variants": [
            {"key": "a", "weight": 100, "destination": "https://www.gharart.com/a"}]}))
        .send()
        .ok(201);
    let res = promote(&w, "draft", "a");
    res.expect(409, "invalid_transition");
    assert!(res.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("draft"));
    // A variant whose destination is not routable (risk 85, no decision) is refused.
    w.req("POST", &format!("{V2}/campaigns"))
        .pat(ADMIN)
        .json(
            json!({"id": "risky", "name": "Risky", "status": "active", "variants": [
            {"key": "net", "weight": 50, "destination": "https://festive-gharart.net/x"},
            {"key": "www", "weight": 50, "destination": "https://www.gharart.com/y"}]}),
        )
        .send()
        .ok(201);
    let before = w.version();
    let res = promote(&w, "risky", "net");
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(
        res.errors(),
        pairs(&[("unroutable_destination", "$.variant")])
    );
    assert_eq!(w.version(), before, "nothing written");
    assert!(!routes_to(&w, "festive-gharart.net"));
    // Paused campaigns are promotable.
    let out = promote(&w, "gulf-eid-teaser", "countdown").ok(200).clone();
    assert_eq!(out["from"], "paused");
    assert_eq!(
        rule(&w, "gulf-eid-teaser")["destination"],
        "https://ae.gharart.com/eid/countdown"
    );
    // Bodies are checked; only admin may promote.
    let res = w
        .req("POST", &format!("{V2}/campaigns/risky/promote"))
        .pat(ADMIN)
        .json(json!({"variant": "www", "extra": 1}))
        .send();
    res.expect(400, "invalid_body");
    w.req("POST", &format!("{V2}/campaigns/risky/promote"))
        .pat("campaigns-write")
        .json(json!({"variant": "www"}))
        .send()
        .expect(403, "insufficient_scope");
}

/// A test is usually read, and its winner promoted, once its end date has passed: a
/// campaign completed by its dates can be promoted while a rule still routes to it.
#[test]
fn a_campaign_completed_by_its_end_date_can_be_promoted() {
    let w = World::new();
    // diwali-hero-ab ends 2027-01-31; the world starts 2026-11-22.
    w.advance(75 * 86_400);
    let res = promote(&w, "diwali-hero-ab", "story");
    assert_eq!(res.ok(200)["campaign"]["status"], "completed");
    assert_eq!(rule(&w, "in-desktop-diwali-ab")["destination"], STORY);
    promote(&w, "diwali-hero-ab", "control").expect(409, "invalid_transition");
}
