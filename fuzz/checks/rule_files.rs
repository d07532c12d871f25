//! Rule files: any bytes parsed as a handle configuration and compiled; when it compiles,
//! a few visits are decided and no location may leave the allowlist.

use edge_router::engine::device::DeviceCategory;
use edge_router::engine::geo::GeoFacts;
use edge_router::{compile, Facts, HandleConfig, Visit};

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let Ok(config) = serde_json::from_slice::<HandleConfig>(data) else {
        return;
    };
    let _ = edge_router::validate(&config);
    let Ok(compiled) = compile(&config) else {
        return;
    };
    let ruleset = compiled.ruleset;
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    for (i, country) in ["IN", "AE", "US", "DE", "ZZ"].into_iter().enumerate() {
        let mut facts = Facts::at(now);
        facts.geo = GeoFacts::normalised(Some(country), None, Some("MH"), None, Some(55836));
        facts.device = DeviceCategory::ALL[i % DeviceCategory::ALL.len()];
        for entry in ruleset.entry_slugs() {
            let visit = Visit {
                entry,
                facts: &facts,
                visitor_id: "0123456789abcdef0123456789abcdef",
                forced_variant: None,
            };
            let decision = ruleset.decide(&visit);
            if let Some(url) = ruleset.location(&decision, &visit, Some("v1.x.y")) {
                assert!(
                    ruleset.allowlist().check_url(&url).is_ok(),
                    "{url} left the allowlist"
                );
            }
        }
    }
}
