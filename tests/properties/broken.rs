//! Broken configurations for the never-panics property: a well-formed configuration from
//! [`crate::gen::valid_config`] with any number of fields replaced by junk or by values
//! that are almost right (an http URL, a port, a lower-case country, a duplicate id).

use edge_router::model::config::{HandleConfig, SetTest, TimeWindow};
use proptest::prelude::*;
use proptest::sample::select;

use crate::gen::valid_config;

fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,16}",
        select(
            &[
                "",
                "IND",
                "in",
                "XX",
                "http://good.example.com/",
                "https://good.example.com:8443/",
                "https://u:p@good.example.com/",
                "https://127.0.0.1/",
                "javascript:alert(1)",
                "//evil.example/",
                " https://good.example.com/ ",
                "https://good.example.com./",
                "Good.Example.com",
                "*.*.example.com",
                "{nope}",
                "{country",
                "2026-13-01T00:00:00Z",
                "*",
                "e0",
                "c0",
                "t0",
                "r0"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

/// One way to break a well-formed configuration.
#[derive(Debug, Clone)]
pub(crate) enum Corruption {
    RuleId(usize, String),
    RuleDestination(usize, String),
    RuleEntry(usize, String),
    RuleCampaign(usize, String),
    RuleCountry(usize, String),
    RuleRegionAndLanguage(usize, String),
    RuleTime(usize, String),
    Domain(usize, String),
    EntrySlug(usize, String),
    EntryDefault(usize, String),
    VariantWeight(usize, usize, u8),
    VariantKey(usize, usize, String),
    CampaignDate(usize, String),
    TemplateParam(usize, String, String),
    Threshold(u8),
    Fallback(String),
    DefaultTemplate(String),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    use Corruption::*;
    let i = || 0usize..8;
    prop_oneof![
        (i(), junk()).prop_map(|(i, s)| RuleId(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleDestination(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleEntry(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleCampaign(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleCountry(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleRegionAndLanguage(i, s)),
        (i(), junk()).prop_map(|(i, s)| RuleTime(i, s)),
        (i(), junk()).prop_map(|(i, s)| Domain(i, s)),
        (i(), junk()).prop_map(|(i, s)| EntrySlug(i, s)),
        (i(), junk()).prop_map(|(i, s)| EntryDefault(i, s)),
        (i(), i(), any::<u8>()).prop_map(|(i, j, w)| VariantWeight(i, j, w)),
        (i(), i(), junk()).prop_map(|(i, j, s)| VariantKey(i, j, s)),
        (i(), junk()).prop_map(|(i, s)| CampaignDate(i, s)),
        (i(), junk(), junk()).prop_map(|(i, k, v)| TemplateParam(i, k, v)),
        any::<u8>().prop_map(Threshold),
        junk().prop_map(Fallback),
        junk().prop_map(DefaultTemplate),
    ]
}

fn at<T>(list: &mut [T], i: usize) -> Option<&mut T> {
    let len = list.len();
    (len > 0).then(|| &mut list[i % len])
}

fn corrupt(mut c: HandleConfig, how: Corruption) -> HandleConfig {
    use Corruption::*;
    match how {
        RuleId(i, s) => with(at(&mut c.rules, i), |r| r.id = s),
        RuleDestination(i, s) => with(at(&mut c.rules, i), |r| r.destination = Some(s)),
        RuleEntry(i, s) => with(at(&mut c.rules, i), |r| r.entries.push(s)),
        RuleCampaign(i, s) => with(at(&mut c.rules, i), |r| r.campaign = Some(s)),
        RuleCountry(i, s) => with(at(&mut c.rules, i), |r| {
            r.conditions.country = Some(SetTest::any_of(vec![s]))
        }),
        RuleRegionAndLanguage(i, s) => with(at(&mut c.rules, i), |r| {
            r.conditions.region = Some(SetTest::none_of(vec![s.clone()]));
            r.conditions.language = Some(SetTest {
                any_of: Some(vec![s.clone()]),
                not_in: Some(vec![s]),
            });
        }),
        RuleTime(i, s) => with(at(&mut c.rules, i), |r| {
            r.conditions.time = Some(TimeWindow {
                start: Some(s),
                end: None,
            })
        }),
        Domain(i, s) => with(at(&mut c.domains, i), |d| d.domain = s),
        EntrySlug(i, s) => with(at(&mut c.entries, i), |e| e.slug = s),
        EntryDefault(i, s) => with(at(&mut c.entries, i), |e| e.default = s),
        VariantWeight(i, j, w) => with(
            at(&mut c.campaigns, i).and_then(|k| at(&mut k.variants, j)),
            |v| v.weight = w,
        ),
        VariantKey(i, j, s) => with(
            at(&mut c.campaigns, i).and_then(|k| at(&mut k.variants, j)),
            |v| v.key = s,
        ),
        CampaignDate(i, s) => with(at(&mut c.campaigns, i), |k| k.end_date = Some(s)),
        TemplateParam(i, k, v) => with(at(&mut c.templates, i), |t| {
            t.params.insert(k, v);
        }),
        Threshold(t) => c.risk_threshold = t,
        Fallback(s) => c.fallback = Some(s),
        DefaultTemplate(s) => c.default_template = Some(s),
    }
    c
}

fn with<T>(target: Option<&mut T>, change: impl FnOnce(&mut T)) {
    if let Some(target) = target {
        change(target);
    }
}

/// A configuration that may be invalid in any number of ways.
pub(crate) fn arbitrary_config() -> impl Strategy<Value = HandleConfig> {
    (valid_config(), prop::collection::vec(corruption(), 0..6))
        .prop_map(|(config, list)| list.into_iter().fold(config, corrupt))
}

/// JSON text that is sometimes a configuration.
pub(crate) fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        valid_config().prop_map(|c| serde_json::to_string(&c).unwrap()),
        "\\PC{0,64}",
        Just(r#"{"handle":"x","risk_threshold":300}"#.to_owned())
    ]
}
