use serde_json::{json, Value};

use super::*;
use crate::model::page::document::{Kind, BLOCKS, MAX_DOCUMENT_BYTES};
use crate::visit::tokens::{CtxClaims, PreviewClaims};

const NOW: &str = "2026-11-10T12:00:00Z";

fn input(level: AccessLevel, document: Value) -> PageInput {
    PageInput {
        access_level: level,
        document,
    }
}

fn page() -> Value {
    json!({
        "title": "Diwali hero: the artisans behind the lamps",
        "locale": "en-IN",
        "blocks": [
            {"type": "hero", "heading": "Light up Diwali", "image": "https://www.gharart.com/img/hero.jpg",
             "cta": {"label": "Shop diyas", "url": "https://www.gharart.com/festive/diyas"}},
            {"type": "login_gate", "message": "Sign in free to see member prices"},
            {"type": "product_grid", "products": ["diya-brass-01", "rangoli-kit-2"]},
            {"type": "countdown", "until": "2026-11-08T00:00:00+05:30"},
            {"type": "text", "body": "Every lamp is made by hand in Moradabad."},
            {"type": "image", "src": "https://www.gharart.com/img/artisan.jpg", "alt": "An artisan at work"},
            {"type": "cta", "label": "See the story", "url": "https://www.gharart.com/festive/story"}
        ]
    })
}

fn problems(document: Value) -> Vec<(&'static str, String)> {
    let mut state = PageState::default();
    match put_draft(
        &mut state,
        "c",
        input(AccessLevel::Public, document),
        "t",
        NOW,
    ) {
        Ok(_) => Vec::new(),
        Err(ApiError::Validation(d)) => d.into_iter().map(|d| (d.code, d.path)).collect(),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn a_full_page_is_valid() {
    assert_eq!(problems(page()), []);
}

#[test]
fn document_problems_have_their_paths() {
    let mut long = page();
    long["blocks"][4]["body"] = json!("x".repeat(10_001));
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!([]), vec![("invalid_type", "$.document")]),
        (
            json!({}),
            vec![
                ("missing_field", "$.document.title"),
                ("missing_field", "$.document.blocks"),
            ],
        ),
        (
            json!({"title": "", "blocks": [], "theme": "dark"}),
            vec![
                ("unknown_field", "$.document.theme"),
                ("invalid_length", "$.document.title"),
                ("invalid_length", "$.document.blocks"),
            ],
        ),
        (
            json!({"title": "t", "locale": "english!", "blocks": [
                {"type": "hero"},
                {"heading": "no type"},
                {"type": "carousel"},
                "text",
                {"type": "image", "src": "http://www.gharart.com/a.jpg", "alt": "a", "width": 3},
                {"type": "product_grid", "products": ["ok", "not ok"]},
                {"type": "countdown", "until": "tomorrow"},
                {"type": "hero", "heading": "h", "cta": {"label": "go"}},
                {"type": 7}
            ]}),
            vec![
                ("invalid_locale", "$.document.locale"),
                ("missing_field", "$.document.blocks[0].heading"),
                ("missing_field", "$.document.blocks[1].type"),
                ("unknown_block_type", "$.document.blocks[2].type"),
                ("invalid_type", "$.document.blocks[3]"),
                ("unknown_field", "$.document.blocks[4].width"),
                ("invalid_url", "$.document.blocks[4].src"),
                ("invalid_id", "$.document.blocks[5].products[1]"),
                ("invalid_time", "$.document.blocks[6].until"),
                ("missing_field", "$.document.blocks[7].cta.url"),
                ("unknown_block_type", "$.document.blocks[8].type"),
            ],
        ),
        (long, vec![("invalid_length", "$.document.blocks[4].body")]),
        (
            json!({"title": "t", "blocks": vec![json!({"type": "text", "body": "x".repeat(9000)}); 4]}),
            vec![("page_too_large", "$.document")],
        ),
        (
            json!({"title": "t", "blocks": vec![json!({"type": "login_gate"}); 51]}),
            vec![("invalid_length", "$.document.blocks")],
        ),
    ];
    for (document, expected) in cases {
        let got = problems(document.clone());
        let got: Vec<(&str, &str)> = got.iter().map(|(c, p)| (*c, p.as_str())).collect();
        assert_eq!(got, expected, "{document}");
    }
    assert!(
        serde_json::to_vec(&json!({"t": "x".repeat(MAX_DOCUMENT_BYTES)}))
            .unwrap()
            .len()
            > MAX_DOCUMENT_BYTES
    );
}

#[test]
fn page_bodies_refuse_unknown_fields_and_levels() {
    let parse = |v: Value| crate::api::body::from_value::<PageInput>(v);
    let ok = parse(json!({"access_level": "FREE_WITH_LOGIN", "document": page()})).unwrap();
    assert_eq!(ok.access_level, AccessLevel::FreeWithLogin);
    for (bad, path) in [
        (
            json!({"access_level": "free_with_login", "document": {}}),
            "$.access_level",
        ),
        (
            json!({"access_level": "PUBLIC", "document": {}, "draft": true}),
            "$.draft",
        ),
        (json!({"document": {}}), "$"),
    ] {
        let err = parse(bad).unwrap_err();
        assert!(
            matches!(&err, crate::api::body::BodyError::Shape { path: p, .. } if p == path),
            "{err:?}"
        );
    }
}

fn sample(kind: Kind) -> Value {
    match kind {
        Kind::Text(_) => json!("x"),
        Kind::Url => json!("https://www.gharart.com/x"),
        Kind::Time => json!("2026-11-08T00:00:00Z"),
        Kind::Locale => json!("hi-IN"),
        Kind::Ids(_) => json!(["sku-1"]),
        Kind::Link => json!({"label": "x", "url": "https://www.gharart.com/"}),
        Kind::Blocks => json!([{"type": "login_gate"}]),
    }
}

/// The schema and the validator come from one table; this pins that they agree on every
/// block type, every field and every required field.
#[test]
fn the_schema_matches_the_validator() {
    let schema = page_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["required"], json!(["title", "blocks"]));
    assert_eq!(schema["additionalProperties"], false);
    let refs = schema["properties"]["blocks"]["items"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(refs.len(), BLOCKS.len());
    for (name, fields) in BLOCKS {
        let def = &schema["$defs"][*name];
        assert_eq!(def["properties"]["type"]["const"], *name);
        let mut block = serde_json::Map::new();
        block.insert("type".into(), json!(name));
        for f in fields.iter() {
            block.insert(f.name.into(), sample(f.kind));
            assert!(def["properties"].get(f.name).is_some(), "{name}.{}", f.name);
            let required = def["required"].as_array().unwrap().contains(&json!(f.name));
            assert_eq!(required, f.required, "{name}.{}", f.name);
        }
        let doc = |block: &serde_json::Map<String, Value>| json!({"title": "t", "blocks": [block]});
        assert_eq!(problems(doc(&block)), [], "{name} with every field");
        for f in fields.iter() {
            let mut without = block.clone();
            without.remove(f.name);
            let got = problems(doc(&without));
            let want = if f.required {
                vec![("missing_field", format!("$.document.blocks[0].{}", f.name))]
            } else {
                vec![]
            };
            assert_eq!(got, want, "{name} without {}", f.name);
        }
    }
}

#[test]
fn drafts_publish_and_the_public_sees_only_the_published() {
    let mut state = PageState::default();
    assert_eq!(
        publish(&mut state, "a", NOW).unwrap_err().code(),
        "nothing_to_publish"
    );
    assert!(public_view("c", &state, "/schema").is_none());
    let rev = put_draft(
        &mut state,
        "c",
        input(AccessLevel::Public, page()),
        "priya",
        NOW,
    )
    .unwrap();
    assert_eq!(rev.revision, 1);
    assert!(
        public_view("c", &state, "/schema").is_none(),
        "a draft is never public"
    );
    assert!(state.unpublished_changes());
    assert!(publish(&mut state, "priya", "2026-11-10T12:05:00Z").unwrap());
    assert!(
        !publish(&mut state, "priya", "2026-11-10T12:06:00Z").unwrap(),
        "idempotent"
    );
    assert_eq!(
        state.published.as_ref().unwrap().published_at.as_deref(),
        Some("2026-11-10T12:05:00Z")
    );

    let mut changed = page();
    changed["title"] = json!("Changed, not yet published");
    put_draft(
        &mut state,
        "c",
        input(AccessLevel::FreeWithLogin, changed),
        "site-token",
        NOW,
    )
    .unwrap();
    assert_eq!(state.revision(), 2);
    assert!(state.unpublished_changes());
    let public = public_view("c", &state, "/schema").unwrap();
    assert_eq!(
        (public.revision, public.access_level),
        (1, AccessLevel::Public)
    );
    assert_eq!(public.document["title"], page()["title"]);
    assert_eq!(page_view("c", &state).draft.unwrap().revision, 2);

    assert!(publish(&mut state, "priya", NOW).unwrap());
    let public = serde_json::to_value(public_view("c", &state, "/schema").unwrap()).unwrap();
    assert_eq!(public["access_level"], "FREE_WITH_LOGIN");
    assert_eq!(public["revision"], 2);
    assert!(public.get("draft").is_none());

    let bad = put_draft(
        &mut state,
        "c",
        input(AccessLevel::Public, json!({})),
        "x",
        NOW,
    );
    assert!(bad.is_err());
    assert_eq!(state.revision(), 2, "a refused PUT changes nothing");

    put_draft(
        &mut state,
        "c",
        input(AccessLevel::Private, page()),
        "x",
        NOW,
    )
    .unwrap();
    publish(&mut state, "x", NOW).unwrap();
    assert!(
        public_view("c", &state, "/schema").is_none(),
        "PRIVATE is never public"
    );

    let stored = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<PageState>(&stored).unwrap(), state);
}

const SECRET: &[u8] = b"test-secret-of-reasonable-length";

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

#[test]
fn site_tokens_are_scoped_to_one_campaign() {
    let now = at(NOW);
    let minted = mint_site_token(
        SECRET,
        "gharart",
        "diwali-hero-ab",
        &SiteTokenRequest::default(),
        now,
    )
    .unwrap();
    assert_eq!(minted.expires_at, now.timestamp() + 3600);
    let t = now.timestamp();
    let ctx = tokens::sign(
        TokenKind::Ctx,
        SECRET,
        CtxClaims {
            handle: "gharart".into(),
            campaign: "diwali-hero-ab".into(),
            variant: "story".into(),
            vid: "v".into(),
        },
        t,
        600,
    );
    let preview = tokens::sign(
        TokenKind::Preview,
        SECRET,
        PreviewClaims {
            handle: "gharart".into(),
            sub: None,
        },
        t,
        600,
    );
    let other = |h: &str, c: &str| {
        mint_site_token(SECRET, h, c, &SiteTokenRequest::default(), now)
            .unwrap()
            .token
    };
    let forged = mint_site_token(
        b"another-secret-entirely!",
        "gharart",
        "diwali-hero-ab",
        &SiteTokenRequest::default(),
        now,
    )
    .unwrap()
    .token;
    let cases: Vec<(String, &str, Result<(), &str>)> = vec![
        (minted.token.clone(), NOW, Ok(())),
        (minted.token.clone(), "2026-11-10T12:59:59Z", Ok(())),
        (
            minted.token.clone(),
            "2026-11-10T13:00:00Z",
            Err("token_expired"),
        ),
        (
            other("gharart", "gulf-eid-teaser"),
            NOW,
            Err("wrong_campaign"),
        ),
        (
            other("someone-else", "diwali-hero-ab"),
            NOW,
            Err("wrong_handle"),
        ),
        (forged, NOW, Err("invalid_token")),
        (ctx, NOW, Err("invalid_token")),
        (preview, NOW, Err("invalid_token")),
        ("v1.garbage.here".into(), NOW, Err("invalid_token")),
        (
            minted.token.clone(),
            "2026-11-10T11:58:00Z",
            Err("invalid_token"),
        ),
    ];
    for (token, when, expected) in cases {
        let got = verify_site_token(SECRET, &token, "gharart", "diwali-hero-ab", at(when))
            .map(|_| ())
            .map_err(|e| e.code().as_str());
        assert_eq!(got, expected, "{token} at {when}");
    }
    for ttl in [0, -5, 86_401] {
        let err = mint_site_token(
            SECRET,
            "g",
            "c",
            &SiteTokenRequest {
                ttl_seconds: Some(ttl),
            },
            now,
        )
        .unwrap_err();
        assert!(matches!(&err, ApiError::InvalidBody { path, .. } if path == "$.ttl_seconds"));
    }
    let day = mint_site_token(
        SECRET,
        "g",
        "c",
        &SiteTokenRequest {
            ttl_seconds: Some(86_400),
        },
        now,
    )
    .unwrap();
    assert_eq!(day.expires_at, now.timestamp() + 86_400);
    assert_eq!(ApiError::WrongCampaign.status(), 403);
}

#[test]
fn site_bearer_forms() {
    assert_eq!(site_bearer(Some("Bearer v1.a.b")), Ok("v1.a.b"));
    assert_eq!(site_bearer(Some("bearer   v1.a.b ")), Ok("v1.a.b"));
    assert_eq!(site_bearer(None), Err(ApiError::MissingToken));
    assert_eq!(site_bearer(Some("  ")), Err(ApiError::MissingToken));
    assert_eq!(site_bearer(Some("Basic abc")), Err(ApiError::InvalidToken));
    assert_eq!(site_bearer(Some("Bearer")), Err(ApiError::InvalidToken));
}
