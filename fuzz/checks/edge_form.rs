//! A snapshot's edge form from KV (`engine::snapshot`): arbitrary bytes as the edge form
//! of a value whose JSON is broken, and as a whole value. Loading never panics; whatever
//! loads decides every entry without panicking and only ever sends visitors to a
//! destination its own allowlist routes (the decoded one: the edge form carries it).

use edge_router::engine::device::DeviceCategory;
use edge_router::engine::geo::GeoFacts;
use edge_router::engine::snapshot::{self, Published};
use edge_router::{Facts, Visit};

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let value = snapshot::join(b"{", data);
    for value in [value.as_slice(), data] {
        let Ok(Published::Live(loaded)) = snapshot::load("gharart", value) else {
            continue;
        };
        let set = &loaded.ruleset;
        let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        for entry in ["festive", "diwali-sale", "partner-offers", "x"] {
            for (country, device) in [
                ("IN", DeviceCategory::Mobile),
                ("US", DeviceCategory::Desktop),
                ("DE", DeviceCategory::Crawler),
            ] {
                let mut facts = Facts::at(now);
                facts.geo = GeoFacts::normalised(Some(country), None, None, None, None);
                facts.device = device;
                let visit = Visit {
                    entry,
                    facts: &facts,
                    visitor_id: "0123456789abcdef0123456789abcdef",
                    forced_variant: None,
                };
                let decision = set.decide(&visit);
                if let Some(location) = set.location(&decision, &visit, None) {
                    assert!(
                        set.allowlist().check_url(&location).is_ok(),
                        "{entry}: {location} is not routable by the snapshot's own allowlist"
                    );
                }
            }
        }
    }
}
