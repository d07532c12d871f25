//! Deterministic expansion of a handle's configuration to a large, realistic one, for
//! benchmarks (criterion and the floor comparison) and load tests: the festive rules
//! grown to N rules over up to 40 countries and M destination domains.
//!
//! Generated rules sit between the handle's own specific rules and its catch-all (whose
//! priority is moved to the end), one block per country, each block mixing device,
//! language, region, query, ASN and time-window rules, so a visitor's country selects a
//! realistic slice and most visitors are decided by a generated rule.

use std::collections::BTreeMap;

use edge_router::model::config::{
    Conditions, DomainDoc, HandleConfig, RuleDoc, SetTest, TimeWindow, Verification,
};

/// Forty storefront countries, the festive markets first.
pub(crate) const COUNTRIES: [&str; 40] = [
    "IN", "AE", "SA", "QA", "KW", "OM", "BH", "GB", "US", "DE", "FR", "IT", "ES", "NL", "BE", "SE",
    "PL", "IE", "AT", "PT", "CA", "AU", "NZ", "SG", "MY", "JP", "KR", "CN", "HK", "TW", "BR", "MX",
    "AR", "ZA", "NG", "KE", "EG", "TR", "ID", "TH",
];

/// Priority given to rules with no conditions or only `not_in` country tests (catch-alls),
/// so generated rules are evaluated before them.
const CATCH_ALL_PRIORITY: u32 = 1_000_000;
/// First priority of generated rules.
const FIRST_PRIORITY: u32 = 61;

/// The generated domain names, with one in twelve not routable (pending, rejected or
/// risky), like a real allowlist.
fn domains(count: usize) -> Vec<DomainDoc> {
    (0..count)
        .zip(COUNTRIES.iter().cycle())
        .map(|(i, country)| {
            let country = country.to_ascii_lowercase();
            let (verification, risk_score, decision) = match i % 12 {
                5 => (Verification::Pending, Some(5), None),
                7 => (Verification::Verified, Some(90), None),
                _ => (Verification::Verified, Some(5), None),
            };
            DomainDoc {
                domain: format!("store-{i}.gharart-{country}.com"),
                verification,
                token: Some(format!("gh-verify-synth-{i}")),
                risk_score,
                decision,
                verified_at: None,
                checked_at: None,
                failure: None,
            }
        })
        .collect()
}

fn set(values: &[&str]) -> Option<SetTest<String>> {
    Some(SetTest::any_of(
        values.iter().map(|v| (*v).to_owned()).collect(),
    ))
}

/// The conditions of the `k`-th generated rule of a country block.
fn conditions(country: &str, k: usize) -> Conditions {
    let mut c = Conditions {
        country: set(&[country]),
        ..Conditions::default()
    };
    match k % 8 {
        0 => c.device = set(&["mobile"]),
        1 => c.device = set(&["desktop"]),
        2 => c.device = set(&["tablet"]),
        3 => c.language = set(&["en"]),
        4 => c.region = set(&[&format!("{country}-R{}", k % 10)]),
        5 => {
            let mut query = BTreeMap::new();
            query.insert(
                "utm_source".to_owned(),
                SetTest::any_of(vec![format!("partner-{}", k % 20)]),
            );
            c.query = query;
        }
        6 => {
            c.device = set(&["mobile", "tablet"]);
            c.time = Some(TimeWindow {
                start: Some("2026-10-01T00:00:00Z".into()),
                end: Some("2027-02-01T00:00:00Z".into()),
            });
        }
        _ => c.asn = Some(SetTest::any_of(vec![(k as u32 % 50_000) + 1])),
    }
    c
}

/// Expands `base` to `rules` rules over the first `countries` of [`COUNTRIES`] (1 to 40)
/// with `domains` generated destination domains (at least 1). Deterministic.
pub(crate) fn expand(
    base: &HandleConfig,
    rules: usize,
    countries: usize,
    domain_count: usize,
) -> HandleConfig {
    let mut config = base.clone();
    let countries = countries.clamp(1, COUNTRIES.len());
    let generated_domains = domains(domain_count.max(1));
    let entries: Vec<String> = config
        .entries
        .first()
        .map(|e| vec![e.slug.clone()])
        .unwrap_or_default();
    for rule in &mut config.rules {
        let positive_country = rule
            .conditions
            .country
            .as_ref()
            .is_some_and(|c| c.any_of.is_some());
        let catch_all = !positive_country
            && rule.conditions.device.is_none()
            && rule.conditions.query.is_empty()
            && rule.conditions.region.is_none()
            && rule.conditions.language.is_none()
            && rule.conditions.eu.is_none()
            && rule.conditions.continent.is_none()
            && rule.campaign.is_none();
        if catch_all && rule.priority >= FIRST_PRIORITY {
            rule.priority = CATCH_ALL_PRIORITY;
        }
    }
    let wanted = rules.saturating_sub(config.rules.len());
    let markets = COUNTRIES.iter().take(countries).cycle();
    for (i, country) in markets.take(wanted).enumerate() {
        let k = i / countries;
        // `generated_domains` is never empty (at least one is generated).
        let Some(domain) = generated_domains
            .get((i * 7 + k) % generated_domains.len())
            .map(|d| d.domain.as_str())
        else {
            break;
        };
        config.rules.push(RuleDoc {
            id: format!("synth-{country}-{k:05}").to_ascii_lowercase(),
            priority: FIRST_PRIORITY + (k as u32).min(CATCH_ALL_PRIORITY - FIRST_PRIORITY - 1),
            enabled: i % 97 != 3,
            entries: entries.clone(),
            conditions: conditions(country, k),
            destination: Some(format!("https://{domain}/festive/{}", i % 1000)),
            campaign: None,
            template: None,
            description: None,
        });
    }
    config.domains.extend(generated_domains);
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_router::compile;

    fn festive() -> HandleConfig {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
        edge_router::model::files::load_dir(&dir).unwrap().0
    }

    #[test]
    fn expands_to_the_asked_size_and_compiles() {
        let base = festive();
        let big = expand(&base, 1000, 40, 500);
        assert_eq!(big.rules.len(), 1000);
        assert_eq!(big.domains.len(), base.domains.len() + 500);
        let compiled = compile(&big).unwrap();
        let unroutable = compiled
            .warnings
            .iter()
            .filter(|w| w.code == "unroutable_destination")
            .count();
        assert!(unroutable > 0 && unroutable < 200, "{unroutable}");
        assert_eq!(expand(&base, 1000, 40, 500), big, "deterministic");
    }

    #[test]
    fn catch_all_moves_behind_generated_rules() {
        let big = expand(&festive(), 200, 40, 50);
        let rest = big.rules.iter().find(|r| r.id == "rest-of-world").unwrap();
        assert_eq!(rest.priority, CATCH_ALL_PRIORITY);
        assert!(big
            .rules
            .iter()
            .filter(|r| r.id.starts_with("synth-"))
            .all(|r| r.priority < CATCH_ALL_PRIORITY));
    }
}
