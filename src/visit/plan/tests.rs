use super::*;

fn country(cc: &str) -> GeoFacts {
    GeoFacts::normalised(Some(cc), None, None, None, None)
}

#[test]
fn the_mmdb_is_read_only_when_a_source_before_it_left_the_country_unknown() {
    let (cf, mmdb) = (GeoSource::Cf, GeoSource::Mmdb);
    let known = country("IN");
    let unknown = GeoFacts::default();
    assert!(!needs_mmdb(&[cf, mmdb], Some(&known)));
    assert!(needs_mmdb(&[cf, mmdb], Some(&unknown)));
    assert!(needs_mmdb(&[cf, mmdb], None));
    assert!(
        needs_mmdb(&[mmdb, cf], Some(&known)),
        "local dev asks the mmdb first"
    );
    assert!(!needs_mmdb(&[cf], None));
}

#[test]
fn request_cf_is_read_when_it_comes_first_or_the_mmdb_cannot_say() {
    let (cf, mmdb) = (GeoSource::Cf, GeoSource::Mmdb);
    let known = country("IN");
    let no_country = GeoFacts {
        country: None,
        ..known.clone()
    };
    assert!(
        needs_cf(&[cf, mmdb], Some(&known)),
        "production asks cf first"
    );
    assert!(
        !needs_cf(&[mmdb, cf], Some(&known)),
        "the mmdb knows the country"
    );
    assert!(
        needs_cf(&[mmdb, cf], None),
        "no MaxMind DB held, no address or no record: cf is the only source"
    );
    assert!(needs_cf(&[mmdb, cf], Some(&no_country)));
    assert!(!needs_cf(&[mmdb], None), "cf is not in the order");
    assert!(!needs_cf(&[], None));
}

#[test]
fn geo_sources_stop_at_the_first_country() {
    let input = GeoInput {
        cf: Some(country("US")),
        ..GeoInput::default()
    };
    let found = geo_sources(&[GeoSource::Cf, GeoSource::Mmdb], &input);
    assert_eq!(found, vec![(GeoSource::Cf, country("US"))]);
    let found = geo_sources(&[GeoSource::Mmdb, GeoSource::Cf], &input);
    assert_eq!(
        found,
        vec![(GeoSource::Cf, country("US"))],
        "no database: the next source answers"
    );
    // The edge looked the client up already (to know whether to read request.cf): its
    // answer counts, with no database at hand to ask again.
    let looked_up = GeoInput {
        mmdb_answer: Some(Some(country("IN"))),
        ..input
    };
    let found = geo_sources(&[GeoSource::Mmdb, GeoSource::Cf], &looked_up);
    assert_eq!(found, vec![(GeoSource::Mmdb, country("IN"))]);
}

#[test]
fn without_a_snapshot_unknown_and_taken_down_handles_are_404_and_failures_the_fallback() {
    let mut settings = VisitSettings {
        geo_order: vec![GeoSource::Cf],
        token_secret: None,
        ctx_ttl_seconds: 60,
        safe_fallback: Url::parse("https://www.gharart.com/").ok(),
    };
    let answer = without_snapshot(NoSnapshot::Unknown, &settings).answer("r1");
    assert_eq!(answer.status, 404);
    assert_eq!(answer.get("X-Router-Outcome"), Some("unknown_entry"));
    assert_eq!(answer.get("X-Snapshot-Version"), None);
    let answer = without_snapshot(NoSnapshot::TakenDown, &settings).answer("r1");
    assert_eq!((answer.status, answer.get("Location")), (404, None));
    assert_eq!(answer.get("X-Router-Outcome"), Some("taken_down"));
    assert_eq!(answer.get("X-Snapshot-Version"), None);
    let answer = without_snapshot(NoSnapshot::Unavailable, &settings).answer("r1");
    assert_eq!(
        (answer.status, answer.get("Location")),
        (302, Some("https://www.gharart.com/"))
    );
    assert_eq!(answer.get("X-Router-Outcome"), Some("snapshot_unavailable"));
    settings.safe_fallback = None;
    let answer = without_snapshot(NoSnapshot::Unavailable, &settings).answer("r1");
    assert_eq!(answer.status, 200);
    let page = String::from_utf8(answer.body).unwrap();
    assert!(
        page.contains("Back soon") && page.contains("Reference: r1"),
        "{page}"
    );
}

#[test]
fn every_answer_carries_the_base_headers() {
    for plan in [
        Plan::NotFound { version: Some(3) },
        Plan::SafePage {
            preview: true,
            version: 3,
            stale: true,
        },
    ] {
        let answer = plan.answer("rid");
        assert_eq!(answer.get("X-Request-Id"), Some("rid"));
        assert_eq!(answer.get("Cache-Control"), Some("private, no-store"));
        assert_eq!(answer.get("X-Snapshot-Version"), Some("3"));
    }
    let answer = Plan::SafePage {
        preview: true,
        version: 3,
        stale: true,
    }
    .answer("rid");
    assert_eq!(answer.get("X-Snapshot-Stale"), Some("1"));
    assert_eq!(answer.get("X-Router-Preview"), Some("1"));
    assert_eq!(answer.get("X-Robots-Tag"), Some("noindex"));
}

fn gharart() -> Loaded {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    let config = crate::model::files::load_dir(&dir).unwrap().0;
    Loaded {
        version: 7,
        generation: 0,
        published_at: String::new(),
        ruleset: crate::engine::compile::compile(&config).unwrap().ruleset,
    }
}

fn an_indian_iphone(cookie: Option<&str>) -> RequestParts<'_> {
    RequestParts {
        request_id: "r1",
        entry: "festive",
        query: "",
        cookie,
        accept_language: None,
        device: DeviceInput::Known(crate::engine::device::DeviceFacts {
            category: DeviceCategory::Mobile,
            os: Some("ios".into()),
            browser: Some("safari".into()),
            source: crate::engine::device::DeviceSource::UserAgent,
        }),
        geo: GeoInput {
            cf: Some(country("IN")),
            ..GeoInput::default()
        },
        head: false,
    }
}

/// Issue 10: a failed random source used to reach `plan` as zeros (the edge logged and
/// went on), so every new visitor got `gh_vid=000…` and the same A/B bucket.
#[test]
fn without_usable_random_bytes_a_new_visitor_gets_the_fallback_and_no_cookie() {
    let loaded = gharart();
    let held = HeldSnapshot {
        loaded: &loaded,
        stale: false,
    };
    let settings = VisitSettings {
        geo_order: vec![GeoSource::Cf],
        token_secret: None,
        ctx_ttl_seconds: 60,
        safe_fallback: Url::parse("https://www.gharart.com/back-soon").ok(),
    };
    let now = "2026-11-22T10:00:00Z".parse().unwrap();
    for random in [None, Some([0u8; 16])] {
        let answer = plan(held, &an_indian_iphone(None), &settings, now, random).answer("r1");
        assert_eq!(
            (answer.status, answer.get("Location")),
            (302, Some("https://www.gharart.com/back-soon")),
            "{random:?}"
        );
        assert_eq!(answer.get("X-Router-Outcome"), Some("random_unavailable"));
        assert_eq!(answer.get("Set-Cookie"), None, "never a shared id");
    }
    let returning = an_indian_iphone(Some("gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00"));
    let answer = plan(held, &returning, &settings, now, None).answer("r1");
    assert_eq!(
        (answer.status, answer.get("X-Router-Outcome")),
        (302, Some("rule")),
        "a returning visitor needs no random bytes"
    );
    assert_eq!(answer.get("Set-Cookie"), None);
    let answer = plan(
        held,
        &an_indian_iphone(None),
        &settings,
        now,
        Some([0xab; 16]),
    )
    .answer("r1");
    assert!(answer
        .get("Set-Cookie")
        .is_some_and(|c| c.starts_with(&format!("gh_vid={};", "ab".repeat(16)))));
}

/// The edge classifies devices through its memo and passes [`DeviceInput::Classified`]:
/// the exposure rule must still read the User-Agent, or link-preview fetchers that look
/// like browsers (iMessage's is Safari's plus markers) would each count as an exposed
/// visitor.
#[test]
fn an_already_classified_device_still_has_its_user_agent_checked_for_link_previews() {
    let loaded = gharart();
    let held = HeldSnapshot {
        loaded: &loaded,
        stale: false,
    };
    let settings = VisitSettings {
        geo_order: vec![GeoSource::Cf],
        token_secret: None,
        ctx_ttl_seconds: 60,
        safe_fallback: None,
    };
    let now = "2026-11-22T10:00:00Z".parse().unwrap();
    let exposure_of = |user_agent: &str, head: bool| {
        let mut parts = an_indian_iphone(Some("gh_vid=c0ffee00c0ffee00c0ffee00c0ffee00"));
        let DeviceInput::Known(mut facts) = parts.device.clone() else {
            unreachable!("an_indian_iphone gives facts")
        };
        // The campaign's rule is for Indian desktops.
        facts.category = DeviceCategory::Desktop;
        parts.device = DeviceInput::Classified {
            headers: DeviceHeaders {
                user_agent: Some(user_agent),
                ..DeviceHeaders::default()
            },
            facts,
        };
        parts.head = head;
        match plan(held, &parts, &settings, now, Some([1; 16])) {
            Plan::Redirect { exposure, .. } => exposure,
            other => panic!("not a redirect: {other:?}"),
        }
    };
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
    let shown = exposure_of(safari, false).expect("a person is exposed");
    assert_eq!(
        (
            shown.campaign.as_str(),
            shown.visitor_id.as_str(),
            shown.id.as_str()
        ),
        ("diwali-hero-ab", "c0ffee00c0ffee00c0ffee00c0ffee00", "r1")
    );
    assert_eq!(exposure_of(safari, true), None, "HEAD");
    assert_eq!(exposure_of("WhatsApp/2.23.20.0 i", false), None);
    assert_eq!(
        exposure_of(
            &format!("{safari} facebookexternalhit/1.1 Facebot Twitterbot/1.0"),
            false
        ),
        None,
        "iMessage"
    );
}
