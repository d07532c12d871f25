//! Deciding over arbitrary facts on the festive rules: never panics, never leaves the
//! allowlist, and the indexed and traced walks agree.

use std::sync::OnceLock;

use edge_router::engine::device::DeviceCategory;
use edge_router::engine::explain::ExplainContext;
use edge_router::engine::facts::FactSources;
use edge_router::engine::facts::Overrides;
use edge_router::engine::geo::GeoFacts;
use edge_router::{compile, Facts, RuleSet, Visit};

fn festive() -> &'static RuleSet {
    static SET: OnceLock<RuleSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = super::festive_dir();
        let (config, _) = edge_router::model::files::load_dir(&dir).expect("festive rules");
        compile(&config).expect("compiles").ruleset
    })
}

fn field<'a>(parts: &mut impl Iterator<Item = &'a str>) -> Option<&'a str> {
    parts.next().filter(|s| !s.is_empty())
}

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}');
    let entry = parts.next().unwrap_or("festive");
    let country = field(&mut parts);
    let region = field(&mut parts);
    let city = field(&mut parts);
    let lang = field(&mut parts);
    let os = field(&mut parts);
    let variant = field(&mut parts);
    let visitor = parts.next().unwrap_or_default();
    let seconds = data.first().copied().unwrap_or(0) as i64 * 86_400 * 7;
    let now = chrono::DateTime::from_timestamp(1_780_000_000 + seconds, 0).unwrap_or_default();
    let mut facts = Facts::at(now);
    facts.geo = GeoFacts::normalised(
        country,
        None,
        region,
        city,
        data.get(1).map(|b| u32::from(*b)),
    );
    facts.device = DeviceCategory::ALL[data.len() % DeviceCategory::ALL.len()];
    facts.language = lang.map(str::to_owned);
    facts.os = os.map(str::to_owned);
    facts.query = parts
        .map(|p| (p.chars().take(8).collect(), p.to_owned()))
        .collect();
    let set = festive();
    let visit = Visit {
        entry,
        facts: &facts,
        visitor_id: visitor,
        forced_variant: variant,
    };
    let decision = set.decide(&visit);
    let location = set.location(&decision, &visit, Some("v1.ctx.token"));
    if let Some(url) = &location {
        assert!(
            set.allowlist().check_url(url).is_ok(),
            "{url} left the allowlist"
        );
    }
    let sources = FactSources::unknown();
    let overrides = Overrides::default();
    let ctx = ExplainContext {
        request_id: "r",
        snapshot_version: 1,
        preview: true,
        preview_sub: None,
        overrides: &overrides,
        rejected: &[],
        sources: &sources,
    };
    let (explanation, traced) = set.explain(&visit, &ctx);
    assert_eq!(
        explanation.rule.as_deref(),
        decision.rule.map(|r| r.id.as_str())
    );
    assert_eq!(
        traced.is_some(),
        set.location(&decision, &visit, None).is_some()
    );
}
