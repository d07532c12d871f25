//! Generators for the property tests: well-formed configurations over a small world of
//! hosts (so that rules, domains and facts actually meet), raw facts with hostile query
//! parameters, and campaign set-ups for the stability property.

use std::collections::BTreeMap;

use chrono::DateTime;
use edge_router::engine::device::DeviceCategory;
use edge_router::engine::facts::Facts;
use edge_router::engine::geo::GeoFacts;
use edge_router::model::config::{
    CampaignDoc, Conditions, DecisionValue, DomainDecision, DomainDoc, EntryDoc, HandleConfig,
    ParamSource, RuleDoc, SetTest, TemplateDoc, TimeWindow, VariantDoc, Verification,
};
use edge_router::model::lifecycle::CampaignStatus;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const DOMAINS: [&str; 9] = [
    "good.example.com",
    "shop.example.com",
    "*.shop.example.com",
    "example.com",
    "*.example.com",
    "*.example.net",
    "x.example.net",
    "evil.example",
    "*.x.example.net",
];
const HOSTS: [&str; 11] = [
    "good.example.com",
    "shop.example.com",
    "a.shop.example.com",
    "b.a.shop.example.com",
    "example.com",
    "x.example.net",
    "deep.x.example.net",
    "example.net",
    "evil.example",
    "good.example.com.evil.io",
    "unlisted.example.org",
];
const COUNTRIES: [&str; 8] = ["IN", "AE", "GB", "US", "DE", "FR", "BR", "CH"];
const TIMES: [&str; 5] = [
    "2026-01-01T00:00:00Z",
    "2026-10-01T00:00:00Z",
    "2026-11-22T10:00:00Z",
    "2027-01-31T00:00:00Z",
    "2027-06-01T00:00:00Z",
];
const PARAMS: [(&str, &str); 7] = [
    ("utm_source", "edge"),
    ("utm_campaign", "{campaign}"),
    ("v", "{variant}"),
    ("r", "{rule}"),
    ("gh_ctx", "{ctx}"),
    ("x", "{country}-{device}"),
    ("h", "{handle}/{entry}"),
];
const HOSTILE: [&str; 9] = [
    "https://evil.example/",
    "//evil.example",
    "\r\nLocation: https://evil.example",
    "#frag",
    "@evil.example",
    "%2F%2Fevil",
    "a&b=c",
    "?x=1",
    "javascript:alert(1)",
];

fn words(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    subsequence(pool, 0..=pool.len().min(3))
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn set_test<T: Clone + std::fmt::Debug>(
    values: impl Strategy<Value = Vec<T>>,
) -> impl Strategy<Value = SetTest<T>> {
    (any::<bool>(), values).prop_map(|(negate, v)| {
        if negate {
            SetTest::none_of(v)
        } else {
            SetTest::any_of(v)
        }
    })
}

fn destination() -> impl Strategy<Value = String> {
    let host = prop_oneof![1 => Just("good.example.com"), 2 => select(&HOSTS[..])];
    (
        host,
        select(&["", "festive", "a/b"][..]),
        select(&["", "?x=1", "?utm_source=dest&gh_ctx=planted"][..]),
        any::<bool>(),
    )
        .prop_map(|(host, path, query, fragment)| {
            format!(
                "https://{host}/{path}{query}{}",
                if fragment { "#top" } else { "" }
            )
        })
}

fn domains() -> impl Strategy<Value = Vec<DomainDoc>> {
    // Biased towards routable, so that every outcome (not only the safe page) is common.
    let verification = prop_oneof![4 => Just(Verification::Verified), 1 => Just(Verification::Pending), 1 => Just(Verification::Failed)];
    let decision = prop::option::weighted(
        0.25,
        select(&[DecisionValue::Approved, DecisionValue::Rejected][..]),
    );
    let trust = (
        verification,
        prop::option::weighted(0.9, prop_oneof![3 => 0u8..30, 1 => 0u8..=100]),
        decision,
    );
    subsequence(&DOMAINS[..], 2..=DOMAINS.len())
        .prop_flat_map(move |names| {
            let n = names.len();
            (Just(names), prop::collection::vec(trust.clone(), n))
        })
        .prop_map(|(names, trusts)| {
            names
                .into_iter()
                .zip(trusts)
                .map(|(domain, (verification, risk_score, decision))| DomainDoc {
                    domain: domain.to_owned(),
                    verification,
                    token: None,
                    risk_score,
                    decision: decision.map(|value| DomainDecision {
                        value,
                        by: "p".into(),
                        reason: "p".into(),
                        at: "2026-01-01T00:00:00Z".into(),
                    }),
                    verified_at: None,
                    checked_at: None,
                    failure: None,
                })
                .collect()
        })
}

fn conditions() -> impl Strategy<Value = Conditions> {
    let geo = (
        prop::option::weighted(0.5, set_test(words(&COUNTRIES))),
        prop::option::weighted(0.2, set_test(words(&["AS", "EU", "NA", "SA"]))),
        prop::option::weighted(0.2, set_test(words(&["IN-MH", "IN-DL", "US-CA"]))),
        prop::option::weighted(0.1, set_test(words(&["Pune", "mumbai"]))),
        prop::option::weighted(0.2, any::<bool>()),
        prop::option::weighted(0.1, set_test(subsequence(&[55836u32, 13335][..], 0..=2))),
    );
    let visitor = (
        prop::option::weighted(
            0.4,
            set_test(words(&["desktop", "mobile", "tablet", "crawler", "other"])),
        ),
        prop::option::weighted(0.1, set_test(words(&["ios", "android", "windows"]))),
        prop::option::weighted(0.1, set_test(words(&["chrome", "safari"]))),
        prop::option::weighted(0.2, set_test(words(&["hi", "ar", "en", "en-gb"]))),
        prop::option::weighted(0.2, set_test(words(&["whatsapp", "mail"]))),
        prop::option::weighted(
            0.2,
            (0usize..TIMES.len(), 0usize..TIMES.len(), any::<bool>()),
        ),
    );
    (geo, visitor).prop_map(
        |(
            (country, continent, region, city, eu, asn),
            (device, os, browser, language, query, time),
        )| Conditions {
            country,
            continent,
            region,
            city,
            eu,
            asn,
            device,
            os,
            browser,
            language,
            query: query
                .map(|q| BTreeMap::from([("utm_source".to_owned(), q)]))
                .unwrap_or_default(),
            time: time.map(|(a, b, open_end)| {
                let (start, end) = (a.min(b), a.max(b));
                TimeWindow {
                    start: Some(TIMES[start].to_owned()),
                    end: (!open_end && end > start).then(|| TIMES[end].to_owned()),
                }
            }),
        },
    )
}

type RawRule = (
    u32,
    bool,
    Option<Vec<usize>>,
    Conditions,
    String,
    Option<usize>,
    bool,
    Option<usize>,
);

fn raw_rule() -> impl Strategy<Value = RawRule> {
    (
        0u32..4,
        prop::bool::weighted(0.85),
        prop::option::weighted(0.8, subsequence(vec![0usize, 1, 2], 1..=2)),
        conditions(),
        destination(),
        prop::option::weighted(0.5, 0usize..3),
        any::<bool>(),
        prop::option::weighted(0.3, 0usize..3),
    )
}

type RawCampaign = (
    CampaignStatus,
    Option<usize>,
    Option<usize>,
    Vec<String>,
    Vec<u8>,
    Option<String>,
    Option<usize>,
);

fn raw_campaign() -> impl Strategy<Value = RawCampaign> {
    let others = select(
        &[
            CampaignStatus::Draft,
            CampaignStatus::Paused,
            CampaignStatus::Canceled,
            CampaignStatus::Completed,
        ][..],
    );
    let status = prop_oneof![2 => Just(CampaignStatus::Active), 1 => others];
    (
        status,
        prop::option::of(0usize..3),
        prop::option::of(3usize..5),
        prop::collection::vec(destination(), 1..=3),
        prop::collection::vec(0u8..=100, 2),
        prop::option::weighted(0.2, "[a-z]{1,8}"),
        prop::option::weighted(0.5, 0usize..3),
    )
}

/// Weights for `n` variants summing to 100, from cut points.
fn weights(n: usize, cuts: &[u8]) -> Vec<u8> {
    let mut points: Vec<u8> = cuts.iter().take(n - 1).copied().collect();
    points.sort_unstable();
    points.push(100);
    let mut prev = 0;
    points
        .into_iter()
        .map(|p| p - std::mem::replace(&mut prev, p))
        .collect()
}

fn template(i: usize, params: Vec<(&str, &str)>, precedence: usize) -> TemplateDoc {
    let orders = [
        None,
        Some(vec![
            ParamSource::Visitor,
            ParamSource::Destination,
            ParamSource::Template,
        ]),
        Some(vec![ParamSource::Template, ParamSource::Destination]),
    ];
    TemplateDoc {
        id: format!("t{i}"),
        params: params
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        precedence: orders[precedence % orders.len()].clone(),
    }
}

/// A well-formed configuration: it compiles (warnings allowed).
pub(crate) fn valid_config() -> impl Strategy<Value = HandleConfig> {
    let templates = prop::collection::vec((subsequence(&PARAMS[..], 1..=4), 0usize..3), 0..=3);
    let entries = prop::collection::vec(
        (destination(), prop::option::weighted(0.3, 0usize..3)),
        1..=3,
    );
    (
        domains(),
        entries,
        prop::collection::vec(raw_rule(), 0..=8),
        prop::collection::vec(raw_campaign(), 0..=3),
        templates,
        prop::option::of(destination()),
        prop_oneof![Just(30u8), 0u8..=100],
        prop::option::of(0usize..3),
    )
        .prop_map(
            |(
                domains,
                entries,
                rules,
                campaigns,
                templates,
                fallback,
                risk_threshold,
                default_template,
            )| {
                let templates: Vec<TemplateDoc> = templates
                    .into_iter()
                    .enumerate()
                    .map(|(i, (p, o))| template(i, p.to_vec(), o))
                    .collect();
                let pick = |k: Option<usize>, len: usize| k.filter(|_| len > 0).map(|k| k % len);
                let template_ref =
                    |k: Option<usize>| pick(k, templates.len()).map(|k| format!("t{k}"));
                let entries: Vec<EntryDoc> = entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, (default, t))| EntryDoc {
                        slug: format!("e{i}"),
                        default,
                        template: template_ref(t),
                        description: None,
                    })
                    .collect();
                let campaigns: Vec<CampaignDoc> = campaigns
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, (status, start, end, dests, cuts, seed, t))| CampaignDoc {
                            id: format!("c{i}"),
                            name: format!("campaign {i}"),
                            status,
                            start_date: start.map(|s| TIMES[s].to_owned()),
                            end_date: end.map(|e| TIMES[e].to_owned()),
                            variants: dests
                                .iter()
                                .zip(weights(dests.len(), &cuts))
                                .zip(["a", "b", "c"])
                                .map(|((destination, weight), key)| VariantDoc {
                                    key: key.into(),
                                    weight,
                                    destination: destination.clone(),
                                })
                                .collect(),
                            traffic_tags: None,
                            seed,
                            template: template_ref(t),
                        },
                    )
                    .collect();
                let rules = rules
                    .into_iter()
                    .enumerate()
                    .map(
                        |(
                            i,
                            (
                                priority,
                                enabled,
                                on,
                                conditions,
                                destination,
                                campaign,
                                keep_destination,
                                t,
                            ),
                        )| {
                            let campaign = pick(campaign, campaigns.len()).map(|k| format!("c{k}"));
                            let on_entries = match on {
                                None => vec!["*".to_owned()],
                                Some(list) => {
                                    let slugs: std::collections::BTreeSet<String> = list
                                        .into_iter()
                                        .map(|k| format!("e{}", k % entries.len()))
                                        .collect();
                                    slugs.into_iter().collect()
                                }
                            };
                            let destination =
                                (campaign.is_none() || keep_destination).then_some(destination);
                            RuleDoc {
                                id: format!("r{i}"),
                                priority,
                                enabled,
                                entries: on_entries,
                                conditions,
                                destination,
                                campaign,
                                template: template_ref(t),
                                description: None,
                            }
                        },
                    )
                    .collect();
                HandleConfig {
                    handle: "shop".into(),
                    fallback,
                    risk_threshold,
                    default_template: template_ref(default_template),
                    entries,
                    rules,
                    domains,
                    templates,
                    campaigns,
                }
            },
        )
}

/// Raw facts (not necessarily normalised), a visitor id and maybe a forced variant.
pub(crate) fn visit() -> impl Strategy<Value = (Facts, String, Option<String>)> {
    let country = prop::option::weighted(
        0.85,
        prop_oneof![
            select(&COUNTRIES[..]).prop_map(str::to_owned),
            select(&["in", "ZZ", "", "XX"][..]).prop_map(str::to_owned)
        ],
    );
    let geo = (
        country,
        prop::option::of(select(&["MH", "DL", "CA", "IN-MH"][..])),
        prop::option::weighted(0.2, select(&["Pune", "PUNE"][..])),
        prop::option::weighted(0.2, select(&[55836u32, 13335][..])),
        prop::bool::weighted(0.8),
    );
    let name = prop_oneof![
        select(
            &[
                "utm_source",
                "utm_campaign",
                "gh_ctx",
                "r",
                "v",
                "x",
                "next",
                "__preview"
            ][..]
        )
        .prop_map(str::to_owned),
        "\\PC{0,6}"
    ];
    let value = prop_oneof![
        select(&["whatsapp", "mail", "eid-teaser"][..]).prop_map(str::to_owned),
        select(&HOSTILE[..]).prop_map(str::to_owned),
        "\\PC{0,24}"
    ];
    let device = (
        select(&DeviceCategory::ALL[..]),
        prop::option::weighted(0.3, select(&["ios", "android"][..])),
        prop::option::weighted(0.3, select(&["chrome", "safari"][..])),
        prop::option::weighted(0.5, select(&["hi", "hi-in", "ar-ae", "en-gb", "en"][..])),
    );
    let now = prop_oneof![Just(1_795_341_600i64), 1_767_225_600i64..1_830_297_600]; // 2026-11-22T10:00Z, or 2026-01-01 .. 2028-01-01
    let id = prop_oneof!["[0-9a-f]{32}", "\\PC{0,40}"];
    let forced = prop::option::weighted(
        0.2,
        select(&["a", "b", "c", "nope"][..]).prop_map(str::to_owned),
    );
    (
        geo,
        device,
        prop::collection::vec((name, value), 0..5),
        now,
        id,
        forced,
    )
        .prop_map(
            |(
                (country, region, city, asn, normalise),
                (device, os, browser, language),
                query,
                now,
                id,
                forced,
            )| {
                let geo = if normalise {
                    GeoFacts::normalised(country.as_deref(), None, region, city, asn)
                } else {
                    GeoFacts {
                        country,
                        continent: None,
                        region: region.map(str::to_owned),
                        city: city.map(str::to_owned),
                        eu: None,
                        asn,
                    }
                };
                let mut facts = Facts::at(DateTime::from_timestamp(now, 0).unwrap_or_default());
                facts.geo = geo;
                facts.device = device;
                facts.os = os.map(str::to_owned);
                facts.browser = browser.map(str::to_owned);
                facts.language = language.map(str::to_owned);
                facts.query = query;
                (facts, id, forced)
            },
        )
}

/// A configuration whose rule `main-rule` routes everyone to the active campaign `main`,
/// and the same configuration with other campaigns and rules added and the rules shuffled.
pub(crate) fn campaign_pair() -> impl Strategy<Value = (HandleConfig, HandleConfig)> {
    let extra = (
        select(
            &[
                CampaignStatus::Active,
                CampaignStatus::Paused,
                CampaignStatus::Draft,
            ][..],
        ),
        any::<bool>(),
        1u32..100,
    );
    (
        2usize..=3,
        prop::collection::vec(0u8..=100, 2),
        prop::option::of("[a-z-]{1,12}"),
        prop::collection::vec(extra, 0..4),
    )
        .prop_flat_map(|(n, cuts, seed, extras)| {
            let base = stable_base(n, &cuts, seed);
            let mut extended = base.clone();
            for (k, (status, before, priority)) in extras.into_iter().enumerate() {
                let mut campaign = base.campaigns[0].clone();
                campaign.id = format!("other-{k}");
                campaign.status = status;
                campaign.seed = None;
                extended
                    .campaigns
                    .insert(if before { 0 } else { extended.campaigns.len() }, campaign);
                let mut rule = base.rules[0].clone();
                rule.id = format!("other-rule-{k}");
                rule.campaign = Some(format!("other-{k}"));
                // Before the main rule only for visitors of an unknown market; else after it.
                rule.priority = if priority < 50 {
                    priority
                } else {
                    priority + 50
                };
                if priority < 50 {
                    rule.conditions.country = Some(SetTest::any_of(vec!["ZZ".to_owned()]));
                }
                extended.rules.push(rule);
            }
            let rules = extended.rules.clone();
            (Just(base), Just(extended), Just(rules).prop_shuffle())
        })
        .prop_map(|(base, mut extended, rules)| {
            extended.rules = rules;
            (base, extended)
        })
}

fn stable_base(n: usize, cuts: &[u8], seed: Option<String>) -> HandleConfig {
    let domain = DomainDoc {
        domain: "good.example.com".into(),
        verification: Verification::Verified,
        token: None,
        risk_score: Some(0),
        decision: None,
        verified_at: None,
        checked_at: None,
        failure: None,
    };
    let variants = weights(n, cuts)
        .into_iter()
        .zip(["a", "b", "c"])
        .map(|(weight, key)| VariantDoc {
            key: key.into(),
            weight,
            destination: format!("https://good.example.com/{key}"),
        })
        .collect();
    let campaign = CampaignDoc {
        id: "main".into(),
        name: "main".into(),
        status: CampaignStatus::Active,
        start_date: Some(TIMES[0].into()),
        end_date: Some(TIMES[4].into()),
        variants,
        traffic_tags: None,
        seed,
        template: None,
    };
    let rule = RuleDoc {
        id: "main-rule".into(),
        priority: 50,
        enabled: true,
        entries: vec!["e".into()],
        conditions: Conditions::default(),
        destination: None,
        campaign: Some("main".into()),
        template: None,
        description: None,
    };
    HandleConfig {
        handle: "shop".into(),
        entries: vec![EntryDoc {
            slug: "e".into(),
            default: "https://good.example.com/e".into(),
            template: None,
            description: None,
        }],
        domains: vec![domain],
        rules: vec![rule],
        campaigns: vec![campaign],
        ..HandleConfig::default()
    }
}
