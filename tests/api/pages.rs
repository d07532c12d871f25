//! Campaign pages: drafts and publishing (management routes and, with a campaign-scoped
//! site token, the public ones), the public read (the published revision only, never
//! `PRIVATE`), `nothing_to_publish`, the page schema, and site tokens.

use edge_router::api::pages::page_schema;
use edge_router::visit::tokens::{self, PreviewClaims, SiteClaims, TokenKind};
use serde_json::{json, Value};

use crate::harness::*;

const CAMPAIGN: &str = "diwali-hero-ab";

fn page_path(id: &str) -> String {
    format!("{V2}/site-structure/campaigns/{id}")
}

fn public_path(id: &str) -> String {
    format!("/v2/public/handles/gharart/site-structure/campaigns/{id}")
}

fn put_page(w: &World, id: &str, level: &str, document: Value) -> Res {
    w.req("PUT", &page_path(id))
        .pat("pages-write")
        .json(json!({"access_level": level, "document": document}))
        .send()
}

fn publish(w: &World, id: &str) -> Res {
    w.req("POST", &format!("{}/publish", page_path(id)))
        .pat("pages-write")
        .send()
}

/// The public read as a signed-in paying member (an entitlement that reaches every gated
/// level; see `gated_pages_need_an_entitlement_that_reaches_them` for the rest).
fn public_get(w: &World, id: &str) -> Res {
    let member = entitlement(w, "PAID");
    w.req("GET", &public_path(id)).bearer(&member).send()
}

fn mint(w: &World, id: &str, body: Option<Value>) -> Res {
    let mut req = w
        .req("POST", &format!("{V2}/campaigns/{id}/site-tokens"))
        .pat("pages-write");
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send()
}

#[test]
fn a_page_is_public_only_once_published() {
    let w = World::new();
    w.get(&page_path(CAMPAIGN), &pat("campaigns-read"))
        .expect(404, "page_not_found");
    public_get(&w, CAMPAIGN).expect(404, "page_not_found");
    let v1 = page_doc("Diwali v1");
    let res = put_page(&w, CAMPAIGN, "PUBLIC", v1.clone());
    let out = res.ok(200);
    assert_eq!(out["campaign"], CAMPAIGN);
    assert_eq!(
        out["draft"],
        json!({"revision": 1, "access_level": "PUBLIC", "document": v1, "updated_at": "2026-11-22T10:00:15Z", "updated_by": "pages-write@gharart.com"})
    );
    assert_eq!(
        (&out["published"], &out["unpublished_changes"]),
        (&Value::Null, &json!(true))
    );
    public_get(&w, CAMPAIGN).expect(404, "page_not_found");
    w.advance(60);
    let res = publish(&w, CAMPAIGN);
    let out = res.ok(200);
    assert_eq!(out["published"]["revision"], 1);
    assert_eq!(out["published"]["published_by"], "pages-write@gharart.com");
    assert_eq!(out["published"]["published_at"], "2026-11-22T10:01:15Z");
    assert_eq!(out["unpublished_changes"], false);
    let res = public_get(&w, CAMPAIGN);
    assert_eq!(
        res.ok(200),
        &json!({
            "campaign": CAMPAIGN, "revision": 1, "access_level": "PUBLIC", "document": v1,
            "published_at": "2026-11-22T10:01:15Z",
            "schema": format!("{}/schema", public_path(CAMPAIGN)),
        })
    );
    // Pages live beside the configuration: no configuration write.
    assert!(w.store.tables.borrow().documents.is_empty());
}

#[test]
fn the_public_read_serves_the_published_revision_never_the_draft() {
    let w = World::new();
    let (v1, v2) = (page_doc("v1"), page_doc("v2"));
    put_page(&w, CAMPAIGN, "PUBLIC", v1.clone()).ok(200);
    publish(&w, CAMPAIGN).ok(200);
    let res = put_page(&w, CAMPAIGN, "FREE_WITH_LOGIN", v2.clone());
    let out = res.ok(200);
    assert_eq!(
        (
            &out["draft"]["revision"],
            &out["published"]["revision"],
            &out["unpublished_changes"]
        ),
        (&json!(2), &json!(1), &json!(true))
    );
    let public = public_get(&w, CAMPAIGN);
    assert_eq!(
        (&public.json["revision"], &public.json["document"]),
        (&json!(1), &v1)
    );
    let published = publish(&w, CAMPAIGN).json.clone();
    assert_eq!(
        (
            &published["published"]["revision"],
            &published["published"]["access_level"]
        ),
        (&json!(2), &json!("FREE_WITH_LOGIN"))
    );
    let public = public_get(&w, CAMPAIGN);
    assert_eq!(
        (
            &public.json["revision"],
            &public.json["document"],
            &public.json["access_level"]
        ),
        (&json!(2), &v2, &json!("FREE_WITH_LOGIN"))
    );
    assert!(public.json.get("draft").is_none());
    // Publishing again changes nothing.
    w.advance(30);
    assert_eq!(publish(&w, CAMPAIGN).json, published);
    assert_eq!(
        w.get(&page_path(CAMPAIGN), &pat("campaigns-read")).json,
        published
    );
}

#[test]
fn a_private_page_is_never_served_publicly() {
    let w = World::new();
    put_page(&w, CAMPAIGN, "PUBLIC", page_doc("open")).ok(200);
    publish(&w, CAMPAIGN).ok(200);
    w.req("GET", &public_path(CAMPAIGN)).send().ok(200);
    put_page(&w, CAMPAIGN, "PRIVATE", page_doc("closed")).ok(200);
    publish(&w, CAMPAIGN).ok(200);
    public_get(&w, CAMPAIGN).expect(404, "page_not_found");
    // Issue 10: a gated page is served only with an entitlement that reaches it.
    for level in ["FREE_WITH_LOGIN", "PAID"] {
        put_page(&w, CAMPAIGN, level, page_doc(level)).ok(200);
        publish(&w, CAMPAIGN).ok(200);
        w.req("GET", &public_path(CAMPAIGN))
            .send()
            .expect(401, "entitlement_required");
        assert_eq!(public_get(&w, CAMPAIGN).ok(200)["access_level"], level);
    }
    let mgmt = w.get(&page_path(CAMPAIGN), &pat("campaigns-read"));
    assert_eq!(mgmt.json["published"]["revision"], 4);
}

#[test]
fn publishing_without_a_draft_is_409_nothing_to_publish() {
    let w = World::new();
    publish(&w, CAMPAIGN).expect(409, "nothing_to_publish");
    let site = w.site_token(TOKEN_SECRET, HANDLE, CAMPAIGN, 600);
    w.req("POST", &format!("{}/publish", public_path(CAMPAIGN)))
        .bearer(&site)
        .send()
        .expect(409, "nothing_to_publish");
    assert!(w.store.tables.borrow().pages.is_empty());
}

#[test]
fn page_bodies_are_checked_with_every_path() {
    let w = World::new();
    let bad = json!({"title": "", "blocks": [{"type": "marquee"}, {"type": "image", "src": "http://x.example/a.png", "alt": "a"}], "theme": "dark"});
    let res = put_page(&w, CAMPAIGN, "FREE_WITH_LOGIN", bad);
    res.expect(VALIDATION_STATUS, "validation_failed");
    let paths: Vec<String> = res.errors().into_iter().map(|(_, p)| p).collect();
    for p in [
        "$.document.title",
        "$.document.blocks[0].type",
        "$.document.blocks[1].src",
        "$.document.theme",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
    }
    for (body, at) in [
        (
            json!({"access_level": "MEMBERS_ONLY", "document": page_doc("x")}),
            "$.access_level",
        ),
        (json!({"access_level": "PUBLIC"}), "$"),
        (
            json!({"access_level": "PUBLIC", "document": page_doc("x"), "publish": true}),
            "$.publish",
        ),
    ] {
        let res = w
            .req("PUT", &page_path(CAMPAIGN))
            .pat("pages-write")
            .json(body.clone())
            .send();
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    put_page(&w, "no-such-campaign", "PUBLIC", page_doc("x")).expect(404, "campaign_not_found");
    publish(&w, "no-such-campaign").expect(404, "campaign_not_found");
    w.get(&page_path("no-such-campaign"), &pat(ADMIN))
        .expect(404, "campaign_not_found");
    assert!(w.store.tables.borrow().pages.is_empty());
}

#[test]
fn the_page_schema_is_public_for_the_campaigns_of_the_handle() {
    let w = World::new();
    for id in [CAMPAIGN, "gulf-eid-teaser"] {
        let res = w.req("GET", &format!("{}/schema", public_path(id))).send();
        assert_eq!(res.ok(200), &page_schema(), "one schema for every campaign");
        assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
    }
    assert_eq!(
        page_schema()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    w.req(
        "GET",
        &format!("{}/schema", public_path("no-such-campaign")),
    )
    .send()
    .expect(404, "campaign_not_found");
}

#[test]
fn site_tokens_are_minted_for_one_campaign_with_a_bounded_lifetime() {
    let w = World::new();
    let now = w.now().timestamp();
    for (body, ttl) in [
        (Some(json!({"ttl_seconds": 600})), 600),
        (None, 3600),
        (Some(json!({"ttl_seconds": 86_400})), 86_400),
    ] {
        let res = mint(&w, CAMPAIGN, body);
        let out = res.ok(201).clone();
        assert_eq!(
            (&out["handle"], &out["campaign"], &out["expires_at"]),
            (&json!(HANDLE), &json!(CAMPAIGN), &json!(now + ttl))
        );
        let token = out["token"].as_str().unwrap();
        let signed =
            tokens::verify::<SiteClaims>(TokenKind::Site, TOKEN_SECRET, token, now).unwrap();
        assert_eq!(
            (
                signed.claims.handle.as_str(),
                signed.claims.campaign.as_str(),
                signed.exp - signed.iat
            ),
            (HANDLE, CAMPAIGN, ttl)
        );
        assert!(
            tokens::verify::<PreviewClaims>(TokenKind::Preview, TOKEN_SECRET, token, now).is_err()
        );
    }
    for (body, at) in [
        (json!({"ttl_seconds": 0}), "$.ttl_seconds"),
        (json!({"ttl_seconds": 86_401}), "$.ttl_seconds"),
        (
            json!({"ttl_seconds": 60, "campaign": "other"}),
            "$.campaign",
        ),
    ] {
        let res = mint(&w, CAMPAIGN, Some(body.clone()));
        res.expect(400, "invalid_body");
        assert_eq!(res.path(), at, "{body}");
    }
    mint(&w, "no-such-campaign", None).expect(404, "campaign_not_found");
    let w = World::with(|s| s.token_secret = None);
    mint(&w, CAMPAIGN, None).expect(503, "tokens_disabled");
}

#[test]
fn the_site_token_routes_refuse_every_other_credential_and_write_nothing() {
    let w = World::with(|s| s.auth_failures_per_minute = 1000);
    let site = mint(&w, CAMPAIGN, Some(json!({"ttl_seconds": 600}))).json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_campaign = mint(&w, "gulf-eid-teaser", None).json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = w.now().timestamp();
    let preview = tokens::sign(
        TokenKind::Preview,
        TOKEN_SECRET,
        PreviewClaims {
            handle: HANDLE.into(),
            sub: None,
        },
        now,
        600,
    );
    let cases = [
        ("no Authorization", None, 401, "missing_token"),
        (
            "a garbage token",
            Some("Bearer not-a-token".to_owned()),
            401,
            "invalid_token",
        ),
        (
            "another scheme",
            Some(format!("Token {site}")),
            401,
            "invalid_token",
        ),
        (
            "the admin PAT",
            Some(format!("Bearer {}", pat(ADMIN))),
            401,
            "invalid_token",
        ),
        (
            "an admin JWT",
            Some(format!("Bearer {}", w.jwt("root", &["admin"]))),
            401,
            "invalid_token",
        ),
        (
            "a preview token",
            Some(format!("Bearer {preview}")),
            401,
            "invalid_token",
        ),
        (
            "a ctx token",
            Some(format!("Bearer {}", w.ctx(CAMPAIGN, "control", "v"))),
            401,
            "invalid_token",
        ),
        (
            "signed with another secret",
            Some(format!(
                "Bearer {}",
                w.site_token(b"not-the-secret", HANDLE, CAMPAIGN, 600)
            )),
            401,
            "invalid_token",
        ),
        (
            "for another handle",
            Some(format!(
                "Bearer {}",
                w.site_token(TOKEN_SECRET, "other-shop", CAMPAIGN, 600)
            )),
            403,
            "wrong_handle",
        ),
        (
            "for another campaign",
            Some(format!("Bearer {other_campaign}")),
            403,
            "wrong_campaign",
        ),
    ];
    let body = json!({"access_level": "FREE_WITH_LOGIN", "document": page_doc("x")});
    let attempt = |w: &World, what: &str, header: &Option<String>, status: u16, code: &str| {
        let put = w.req("PUT", &public_path(CAMPAIGN)).json(body.clone());
        let publish = w.req("POST", &format!("{}/publish", public_path(CAMPAIGN)));
        for req in [put, publish] {
            let req = match header {
                Some(h) => req.authorization(h),
                None => req,
            };
            let res = req.send();
            assert_eq!(
                (res.status, res.code()),
                (status, code),
                "{what}: {}",
                res.text
            );
        }
    };
    for (what, header, status, code) in &cases {
        attempt(&w, what, header, *status, code);
    }
    w.advance(601);
    attempt(
        &w,
        "expired",
        &Some(format!("Bearer {site}")),
        401,
        "token_expired",
    );
    // A site token opens no management route.
    let fresh = w.site_token(TOKEN_SECRET, HANDLE, CAMPAIGN, 600);
    w.get(&page_path(CAMPAIGN), &fresh)
        .expect(401, "invalid_token");
    assert!(w.store.tables.borrow().pages.is_empty(), "nothing written");
}

#[test]
fn with_a_site_token_the_storefront_writes_and_publishes_its_campaigns_page() {
    let w = World::new();
    let site = mint(&w, CAMPAIGN, None).json["token"]
        .as_str()
        .unwrap()
        .to_owned();
    put_page(&w, CAMPAIGN, "FREE_WITH_LOGIN", page_doc("by the team")).ok(200);
    publish(&w, CAMPAIGN).ok(200);
    let v2 = page_doc("by the storefront");
    let res = w
        .req("PUT", &public_path(CAMPAIGN))
        .bearer(&site)
        .json(json!({"access_level": "FREE_WITH_LOGIN", "document": v2}))
        .send();
    let out = res.ok(200);
    assert_eq!(
        (&out["draft"]["revision"], &out["draft"]["updated_by"]),
        (&json!(2), &json!("site:diwali-hero-ab"))
    );
    assert_eq!(res.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        public_get(&w, CAMPAIGN).json["revision"],
        1,
        "the draft is not public"
    );
    let res = w
        .req("PUT", &public_path(CAMPAIGN))
        .bearer(&site)
        .json(json!({"access_level": "FREE_WITH_LOGIN", "document": {"title": "x"}}))
        .send();
    res.expect(VALIDATION_STATUS, "validation_failed");
    let res = w
        .req("POST", &format!("{}/publish", public_path(CAMPAIGN)))
        .bearer(&site)
        .send();
    assert_eq!(
        res.ok(200)["published"]["published_by"],
        "site:diwali-hero-ab"
    );
    let public = public_get(&w, CAMPAIGN);
    assert_eq!(
        (&public.json["revision"], &public.json["document"]),
        (&json!(2), &v2)
    );
}

/// The page schema and the management read answer 404 `campaign_not_found` for a campaign
/// the handle no longer has; the public read still serves its last published page.
#[test]
fn a_removed_campaigns_page_is_no_longer_served_publicly() {
    let w = World::new();
    let id = "gulf-eid-teaser";
    put_page(&w, id, "PUBLIC", page_doc("Eid")).ok(200);
    publish(&w, id).ok(200);
    public_get(&w, id).ok(200);
    let mut config = gharart();
    config.rules.retain(|r| r.campaign.as_deref() != Some(id));
    config.campaigns.retain(|c| c.id != id);
    w.req("PUT", &format!("{V2}/configuration"))
        .pat(ADMIN)
        .json(serde_json::to_value(config).unwrap())
        .send()
        .ok(200);
    w.get(&page_path(id), &pat(ADMIN))
        .expect(404, "campaign_not_found");
    w.req("GET", &format!("{}/schema", public_path(id)))
        .send()
        .expect(404, "campaign_not_found");
    let res = public_get(&w, id);
    assert_eq!(res.status, 404, "{}", res.text);
}

fn entitlement(w: &World, level: &str) -> String {
    w.req("POST", &format!("{V2}/entitlements"))
        .pat("entitlements")
        .json(json!({"access_level": level, "subject": "member-7"}))
        .send()
        .ok(201)["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Issue 10: entitlements reach pages of their level (PAID also FREE_WITH_LOGIN) of their
/// handle, and fail with stable codes otherwise.
#[test]
fn gated_pages_need_an_entitlement_that_reaches_them() {
    let w = World::new();
    put_page(&w, CAMPAIGN, "PAID", page_doc("members")).ok(200);
    publish(&w, CAMPAIGN).ok(200);
    let read = |token: Option<&str>| {
        let req = w.req("GET", &public_path(CAMPAIGN));
        match token {
            Some(t) => req.bearer(t).send(),
            None => req.send(),
        }
    };
    read(None).expect(401, "entitlement_required");
    read(Some(&entitlement(&w, "FREE_WITH_LOGIN"))).expect(403, "insufficient_entitlement");
    read(Some("v1.forged.token")).expect(401, "invalid_token");
    let site = w.site_token(TOKEN_SECRET, HANDLE, CAMPAIGN, 600);
    read(Some(&site)).expect(401, "invalid_token");
    let paid = entitlement(&w, "PAID");
    read(Some(&paid)).ok(200);
    w.advance(3601);
    read(Some(&paid)).expect(401, "token_expired");
    for bad in [
        json!({"access_level": "PUBLIC", "subject": "m"}),
        json!({"access_level": "PRIVATE", "subject": "m"}),
        json!({"access_level": "PAID", "subject": ""}),
        json!({"access_level": "PAID", "subject": "m", "ttl_seconds": 86_401}),
    ] {
        w.req("POST", &format!("{V2}/entitlements"))
            .pat("entitlements")
            .json(bad.clone())
            .send()
            .expect(400, "invalid_body");
    }
    w.req("POST", &format!("{V2}/entitlements"))
        .pat("pages-write")
        .json(json!({"access_level": "PAID", "subject": "m"}))
        .send()
        .expect(403, "insufficient_scope");
}

/// Issue 10: every URL of a page must be routable on the handle's allowlist, when the
/// draft is written and again when it is published.
#[test]
fn a_page_links_only_to_routable_destinations() {
    let w = World::new();
    let doc = json!({"title": "Diwali", "blocks": [
        {"type": "image", "src": "https://evil.example/pixel.png", "alt": "x"},
        {"type": "cta", "label": "Shop", "url": "https://www.gharart.com/diwali"},
        {"type": "hero", "heading": "h", "cta": {"label": "Go", "url": "https://offers.gharart-deals.com/x"}}
    ]});
    let res = put_page(&w, CAMPAIGN, "PUBLIC", doc);
    res.expect(VALIDATION_STATUS, "validation_failed");
    let paths: Vec<&str> = res.json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["code"], "unroutable_url");
            d["path"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        paths,
        ["$.document.blocks[0].src", "$.document.blocks[2].cta.url"]
    );
    assert!(w.store.tables.borrow().pages.is_empty(), "nothing stored");
}

/// A document with a malformed link and an unroutable one reports both at once (the
/// malformed one once, for its form), so an editor fixes everything in one round.
#[test]
fn form_and_routability_problems_are_reported_together() {
    let w = World::new();
    let doc = json!({"title": "Diwali", "blocks": [
        {"type": "cta", "label": "Shop", "url": "http://www.gharart.com/diwali"},
        {"type": "cta", "label": "Away", "url": "https://evil.example/login"},
        {"type": "cta", "label": "Ok", "url": "https://www.gharart.com/diwali"}
    ]});
    let res = put_page(&w, CAMPAIGN, "PUBLIC", doc);
    res.expect(VALIDATION_STATUS, "validation_failed");
    let found: Vec<(&str, &str)> = res.json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("invalid_url", "$.document.blocks[0].url"),
            ("unroutable_url", "$.document.blocks[1].url"),
        ]
    );
    assert!(w.store.tables.borrow().pages.is_empty(), "nothing stored");
}

/// A page URL is bounded in bytes like every destination: 2048 characters of `é` (4096
/// bytes) are too long even though the count of characters is within the limit.
#[test]
fn a_page_url_is_at_most_2048_bytes() {
    let w = World::new();
    let fits = format!("https://www.gharart.com/{}", "e".repeat(2048 - 24));
    let over = format!("https://www.gharart.com/{}", "é".repeat(2000));
    assert_eq!(fits.len(), 2048);
    let doc =
        |url: &str| json!({"title": "t", "blocks": [{"type": "cta", "label": "Go", "url": url}]});
    put_page(&w, CAMPAIGN, "PUBLIC", doc(&fits)).ok(200);
    let res = put_page(&w, CAMPAIGN, "PUBLIC", doc(&over));
    res.expect(VALIDATION_STATUS, "validation_failed");
    assert_eq!(res.json["error"]["details"][0]["code"], "invalid_length");
    assert_eq!(
        res.json["error"]["details"][0]["path"],
        "$.document.blocks[0].url"
    );
}
