//! The edge form's layout guard (`engine::snapshot`): a value stored by a build of this
//! `EDGE_LAYOUT` must still decode, to the decisions its own JSON makes. The fixture is the
//! festive rules as a publisher stored them; if a type the edge form carries changes
//! shape, this fails: bump `EDGE_LAYOUT` (so values written by older builds are loaded
//! from their JSON instead of misread) and write the fixture again with
//! `UPDATE_EDGE_FORM_FIXTURE=1 cargo test --test edge_form`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use edge_router::engine::device::DeviceCategory;
use edge_router::engine::facts::Facts;
use edge_router::engine::geo::GeoFacts;
use edge_router::engine::snapshot::{self, Loaded, Published, Snapshot, EDGE_LAYOUT};
use edge_router::model::files::load_dir;
use edge_router::Visit;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/edge_form/festive.snapshot")
}

fn live(handle: &str, value: &[u8]) -> Box<Loaded> {
    match snapshot::load(handle, value) {
        Ok(Published::Live(loaded)) => loaded,
        other => panic!("not a live snapshot: {other:?}"),
    }
}

#[test]
fn an_edge_form_of_this_layout_still_decodes_to_what_its_json_decides() {
    if std::env::var_os("UPDATE_EDGE_FORM_FIXTURE").is_some() {
        let (config, _) =
            load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart")).unwrap();
        let stored = Snapshot::new(config, 3, "2026-11-30T00:00:00Z".into())
            .to_stored()
            .unwrap();
        std::fs::write(fixture(), stored).unwrap();
    }
    let stored = std::fs::read(fixture()).unwrap();
    let (json, edge) = snapshot::split(&stored);
    let edge = edge.expect("the fixture has an edge form");
    assert_eq!(
        edge.first().copied(),
        Some(u8::try_from(EDGE_LAYOUT).unwrap()),
        "EDGE_LAYOUT changed: write the fixture again (see the module docs)"
    );
    // The edge form alone (its JSON broken, nothing else can build it).
    let decoded = match snapshot::load("gharart", &snapshot::join(b"{", edge)) {
        Ok(Published::Live(loaded)) => loaded,
        other => panic!(
            "this build no longer reads layout {EDGE_LAYOUT}'s edge form ({other:?}): a type it \
             carries changed shape, so bump EDGE_LAYOUT and write the fixture again (module docs)"
        ),
    };
    let from_json = live("gharart", json);
    assert_eq!(decoded.revision(), from_json.revision());
    let mut compared = 0;
    for entry in ["festive", "diwali-sale", "partner-offers", "no-such-entry"] {
        for country in ["IN", "US", "GB", "AE", "DE", "SG", "BR"] {
            for region in [None, Some("US-CA"), Some("IN-MH")] {
                for device in ["desktop", "mobile", "tablet", "crawler"] {
                    for visitor in [
                        "0123456789abcdef0123456789abcdef",
                        "fedcba9876543210fedcba9876543210",
                    ] {
                        let mut facts = Facts::at("2026-11-30T10:00:00Z".parse().unwrap());
                        facts.geo = GeoFacts::normalised(Some(country), None, region, None, None);
                        facts.device = DeviceCategory::parse(device).unwrap();
                        let visit = Visit {
                            entry,
                            facts: &facts,
                            visitor_id: visitor,
                            forced_variant: None,
                        };
                        let said = |loaded: &Loaded| {
                            let set = &loaded.ruleset;
                            let decision = set.decide(&visit);
                            (
                                decision.outcome,
                                decision.rule.map(|r| r.id.clone()),
                                decision.assignment.map(|a| a.variant.key.clone()),
                                set.location(&decision, &visit, None).map(|u| u.to_string()),
                            )
                        };
                        assert_eq!(
                            said(&decoded),
                            said(&from_json),
                            "{entry} {country} {region:?} {device}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 4 * 7 * 3 * 4 * 2);
}
