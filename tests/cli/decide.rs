//! `router preview`, `router matrix` and `router audit` on rules/gharart and broken copies.

use serde_json::{json, Value};

use super::*;

#[test]
fn preview_sends_the_indian_iphone_to_the_mobile_storefront() {
    let dir = rules_dir();
    let by_flags = router(&[
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "IN",
        "--device",
        "mobile",
    ]);
    let by_ua = router(&[
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "IN",
        "--user-agent",
        IPHONE,
    ]);
    for out in [&by_flags, &by_ua] {
        assert_eq!(code(out), 0, "{}", stderr(out));
        let text = stdout(out);
        assert!(text.contains(&format!("location  {IN_MOBILE}\n")), "{text}");
        assert!(text.contains("outcome   rule in-mobile"), "{text}");
    }
    assert!(stdout(&by_ua).contains("os ios, browser safari"));

    let out = router(&[
        "--json",
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "IN",
        "--user-agent",
        IPHONE,
        "--explain",
    ]);
    assert_eq!(code(&out), 0);
    let e = json_out(&out);
    assert_eq!(e["location"], IN_MOBILE);
    assert_eq!(e["rule"], "in-mobile");
    assert_eq!(e["outcome"], "rule");
    assert_eq!(e["facts"]["country"]["source"], "override");
    assert_eq!(e["facts"]["device"]["source"], "user_agent");
    let steps = e["rules"].as_array().expect("the trace");
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(step("in-mobile")["result"], "won");
    assert_eq!(step("in-deals-pending")["result"], "skipped");
    assert_eq!(step("in-mobile-2025")["reason"], "rule is disabled");
    assert_eq!(step("in-tablet")["result"], "not_reached");
}

#[test]
fn preview_explains_campaigns_times_and_the_trace() {
    let dir = rules_dir();
    let at = "2026-11-01T00:00:00Z";
    let out = router(&[
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "IN",
        "--device",
        "desktop",
        "--at",
        at,
        "--variant",
        "story",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("campaign  diwali-hero-ab (active): variant story (forced)"),
        "{text}"
    );
    assert!(
        text.contains("location  https://www.gharart.com/festive/diwali-hero-b?"),
        "{text}"
    );

    let out = router(&[
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "IN",
        "--at",
        "2026-11-06T12:00:00+05:30",
        "--explain",
    ]);
    let text = stdout(&out);
    assert!(text.contains("outcome   rule dhanteras-flash"), "{text}");
    assert!(text.contains("country    IN"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("dhanteras-flash") && l.contains("won")),
        "{text}"
    );

    let out = router(&[
        "preview",
        &dir,
        "--entry",
        "festive",
        "--country",
        "AE",
        "--query",
        "utm_campaign=eid-teaser",
        "--at",
        at,
    ]);
    assert!(
        stdout(&out).contains("no variant: the campaign is paused"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn preview_refuses_bad_options_and_exits_1_for_the_safe_page() {
    let dir = rules_dir();
    let out = router(&["preview", &dir, "--entry", "festivee"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out)
            .contains("no entry \"festivee\"; its entries: diwali-sale, festive, partner-offers"),
        "{}",
        stderr(&out)
    );
    for (flag, value, says) in [
        (
            "--country",
            "India",
            "--country \"India\" is not an ISO 3166-1 alpha-2 code",
        ),
        ("--device", "phone", "--device is one of desktop, mobile"),
        (
            "--at",
            "yesterday",
            "--at \"yesterday\" is not an RFC 3339 time",
        ),
        (
            "--query",
            "__country=AE",
            "parameters starting with __ are reserved",
        ),
    ] {
        let out = router(&["preview", &dir, "--entry", "festive", flag, value]);
        assert_eq!(code(&out), 2, "{flag} {value}");
        assert!(
            stderr(&out).contains(says),
            "{flag} {value}: {}",
            stderr(&out)
        );
    }
    // With an unroutable fallback, the partner entry (pending domain) has nowhere to go.
    let dir = Scratch::broken("safe-page", "handle.json", |t| {
        t.replace(
            "\"fallback\": \"https://www.gharart.com/\"",
            "\"fallback\": \"https://gharart-sale.shop/\"",
        )
    });
    let out = router(&["preview", dir.path(), "--entry", "partner-offers"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("safe page"), "{}", stdout(&out));
    let out = router(&["--json", "preview", dir.path(), "--entry", "partner-offers"]);
    assert_eq!(json_out(&out)["location"], Value::Null);
}

#[test]
fn matrix_renders_the_route_preview_table() {
    let dir = rules_dir();
    let at = "2026-11-01T00:00:00Z";
    let out = router(&["matrix", &dir, "--entry", "festive", "--at", at]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().nth(2).unwrap_or_default();
    assert!(
        header.starts_with("country") && header.contains("desktop") && header.contains("tablet"),
        "{text}"
    );
    let row = |country: &str| {
        text.lines()
            .find(|l| l.starts_with(country))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row("IN ").contains("in-mobile → m.gharart.in/festive"),
        "{text}"
    );
    assert!(
        row("IN ").contains("in-desktop-diwali-ab → campaign diwali-hero-ab"),
        "{text}"
    );
    assert!(
        row("unknown").contains("rest-of-world → www.gharart.com/festive/world"),
        "{text}"
    );
    assert!(
        text.contains("campaign diwali-hero-ab (active)\n   50%  control"),
        "{text}"
    );

    let out = router(&[
        "--json",
        "matrix",
        &dir,
        "--entry",
        "festive",
        "--countries",
        "IN,AE,unknown",
        "--devices",
        "mobile,desktop",
        "--at",
        at,
    ]);
    assert_eq!(code(&out), 0);
    let m = json_out(&out);
    assert_eq!(m["countries"], json!(["IN", "AE", null]));
    assert_eq!(m["devices"], json!(["mobile", "desktop"]));
    let cells = m["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 6);
    assert_eq!(cells[0]["rule"], "in-mobile");
    assert_eq!(cells[0]["location"], IN_MOBILE);
    assert!(m["legend"].as_array().is_some_and(|l| !l.is_empty()));

    let out = router(&["matrix", &dir, "--entry", "festive", "--countries", "India"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--countries: \"India\" is not an ISO 3166-1 alpha-2 country code")
    );
}

#[test]
fn audit_groups_findings_and_fails_on_request() {
    let dir = rules_dir();
    let out = router(&["audit", &dir]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("audit of gharart: 1 priority collision(s), 0 shadowed rule(s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "priority collisions\n  ae-arabic / gulf-arabic (priority 30, entries festive)"
        ),
        "{text}"
    );
    let line = line_of("rules.json", "\"gulf-sale-shop\"");
    assert!(
        text.contains(&format!(
            "rule gulf-sale-shop: https://gharart-sale.shop/gulf  [{dir}/rules.json:{line}]"
        )),
        "{text}"
    );
    assert!(text.contains("default of entry partner-offers"), "{text}");

    let out = router(&["--json", "audit", &dir]);
    let report = json_out(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["summary"]["unroutable"], 5);
    assert_eq!(
        report["priority_collisions"][0]["rules"],
        json!(["ae-arabic", "gulf-arabic"])
    );

    let out = router(&["audit", &dir, "--fail-on", "unroutable,collisions"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("failing: --fail-on unroutable,collisions"));
    assert_eq!(
        code(&router(&["--json", "audit", &dir, "--fail-on", "any"])),
        1
    );
    // A rule behind an earlier catch-all can never win: the default --fail-on catches it.
    let shadowed = Scratch::broken("shadowed", "rules.json", |t| {
        t.replace("\"priority\": 90,", "\"priority\": 1,")
    });
    let out = router(&["audit", shadowed.path()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
}
