use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::model::config::VariantDoc;

fn campaign(variants: &[(&str, u8)]) -> CampaignDoc {
    CampaignDoc {
        id: "diwali".into(),
        name: "Diwali".into(),
        status: Default::default(),
        start_date: None,
        end_date: None,
        variants: variants
            .iter()
            .map(|(key, weight)| VariantDoc {
                key: (*key).into(),
                weight: *weight,
                destination: format!("https://gharart.com/{key}"),
            })
            .collect(),
        traffic_tags: None,
        seed: None,
        template: None,
    }
}

fn exposure(variant: &str, exposed_visitors: u64, visits: u64) -> ExposureRow {
    ExposureRow {
        variant: variant.into(),
        exposed_visitors,
        visits,
    }
}

fn conversion(variant: &str, event: &str, converting_visitors: u64, events: u64) -> ConversionRow {
    ConversionRow {
        variant: variant.into(),
        event: event.into(),
        converting_visitors,
        events,
    }
}

fn typical() -> Observed {
    Observed {
        exposures: vec![
            exposure("control", 6_000, 7_000),
            exposure("control", 4_000, 5_100),
            exposure("story", 10_050, 12_000),
        ],
        conversions: vec![
            conversion("control", "purchase", 480, 530),
            conversion("story", "purchase", 556, 600),
            conversion("story", "signup", 90, 90),
        ],
        last_batch_at: Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 12, 8, 30, 0)
                .unwrap(),
        ),
    }
}

/// Serialises and checks the text holds no NaN or infinity (serde_json would write them
/// as `null`, hiding the bug: so every number is also checked to be finite).
fn json_of(results: &CampaignResults) -> serde_json::Value {
    let text = serde_json::to_string(results).unwrap();
    for bad in ["NaN", "nan", "inf", "Infinity"] {
        assert!(!text.contains(bad), "{bad} in {text}");
    }
    fn finite(v: &serde_json::Value) {
        match v {
            serde_json::Value::Number(n) => assert!(n.as_f64().unwrap().is_finite()),
            serde_json::Value::Array(a) => a.iter().for_each(finite),
            serde_json::Value::Object(o) => o.values().for_each(finite),
            _ => {}
        }
    }
    let value = serde_json::to_value(results).unwrap();
    finite(&value);
    value
}

#[test]
fn figures_per_variant_and_event() {
    let r = results(
        &campaign(&[("control", 50), ("story", 50)]),
        &typical(),
        None,
    );
    assert_eq!(r.control.as_deref(), Some("control"));
    assert_eq!(r.events, ["purchase", "signup"]);
    assert_eq!(
        r.primary_event,
        PrimaryEvent {
            name: "purchase".into(),
            chosen_by: ChosenBy::Default
        }
    );
    let [control, story] = &r.variants[..] else {
        panic!("{:?}", r.variants)
    };
    assert_eq!((control.exposed_visitors, control.visits), (10_000, 12_100));
    let c = &control.events["purchase"];
    assert_eq!(
        (c.converting_visitors, c.events, c.rate),
        (480, 530, Some(0.048))
    );
    assert_eq!(c.interval, wilson_interval(Counts::new(480, 10_000)).ok());
    assert_eq!(
        (c.uplift, c.p_value, c.chance_to_beat_control),
        (None, None, None)
    );
    assert_eq!(c.reasons["p_value"], NotComputed::IsControl);
    let s = &story.events["purchase"];
    let (cc, sc) = (Counts::new(480, 10_000), Counts::new(556, 10_050));
    assert_eq!(s.uplift, relative_uplift(cc, sc).ok());
    assert_eq!(s.p_value, z_test_p_value(cc, sc).ok());
    assert_eq!(s.chance_to_beat_control, chance_to_beat(cc, sc).ok());
    assert!(s.reasons.is_empty(), "{:?}", s.reasons);
    // The control converted nobody on signup: no uplift, but a p-value and a chance.
    let signup = &story.events["signup"];
    assert_eq!(
        signup.reasons.get("uplift"),
        Some(&NotComputed::ControlRateZero)
    );
    assert!(signup.p_value.is_some() && signup.chance_to_beat_control.is_some());
    assert_eq!(control.events["signup"].rate, Some(0.0));
    assert_eq!(r.as_of.as_deref(), Some("2026-11-12T08:30:00Z"));
    let from = &r.computed_from;
    assert_eq!(
        (from.exposed_visitors, from.visits, from.events),
        (20_050, 24_100, 1_220)
    );
    assert!(!r.srm.flagged);
    assert_eq!(r.srm.expected_shares["story"], 0.5);
    assert_eq!(r.srm.observed["story"], 10_050);
    json_of(&r);
}

#[test]
fn the_primary_event() {
    struct Case {
        conversions: Vec<ConversionRow>,
        requested: Option<&'static str>,
        want: (&'static str, ChosenBy),
    }
    let cases = [
        Case {
            conversions: vec![conversion("control", "signup", 9, 9)],
            requested: Some("add_to_cart"),
            want: ("add_to_cart", ChosenBy::Requested),
        },
        Case {
            conversions: vec![
                conversion("control", "signup", 90, 90),
                conversion("story", "purchase", 1, 1),
            ],
            requested: None,
            want: ("purchase", ChosenBy::Default),
        },
        Case {
            conversions: vec![
                conversion("control", "signup", 5, 9),
                conversion("story", "signup", 5, 5),
                conversion("story", "lead", 10, 10),
                conversion("story", "call", 10, 10),
                // Not the campaign's: does not count.
                conversion("retired", "zzz", 500, 500),
            ],
            requested: Some(""),
            want: ("call", ChosenBy::MostConverting),
        },
        Case {
            conversions: vec![],
            requested: None,
            want: ("purchase", ChosenBy::Default),
        },
    ];
    for case in cases {
        let observed = Observed {
            conversions: case.conversions,
            ..typical()
        };
        let r = results(
            &campaign(&[("control", 50), ("story", 50)]),
            &observed,
            case.requested,
        );
        let got = (r.primary_event.name.as_str(), r.primary_event.chosen_by);
        assert_eq!(got, case.want);
        // Every variant reports the primary event, converted on or not.
        assert!(r
            .variants
            .iter()
            .all(|v| v.events.contains_key(case.want.0)));
        assert!(!r.events.iter().any(|e| e == "zzz"));
    }
}

#[test]
fn edge_cases_have_defined_values() {
    let two = || campaign(&[("control", 50), ("story", 50)]);
    let cases: [(&str, CampaignDoc, Observed); 6] = [
        ("no variants", campaign(&[]), typical()),
        ("one variant", campaign(&[("control", 100)]), typical()),
        ("nothing recorded", two(), Observed::default()),
        (
            "everybody converted",
            two(),
            Observed {
                exposures: vec![exposure("control", 20, 20), exposure("story", 25, 30)],
                conversions: vec![
                    conversion("control", "purchase", 20, 22),
                    conversion("story", "purchase", 25, 25),
                ],
                last_batch_at: None,
            },
        ),
        (
            "more converting than exposed",
            two(),
            Observed {
                exposures: vec![exposure("control", 3, 3), exposure("story", 25, 30)],
                conversions: vec![conversion("control", "purchase", 7, 7)],
                last_batch_at: None,
            },
        ),
        (
            "uneven weights, a variant never shown",
            campaign(&[("control", 10), ("story", 30), ("quiet", 60)]),
            Observed {
                exposures: vec![exposure("quiet", 600, 600), exposure("story", 0, 0)],
                conversions: vec![conversion("quiet", "purchase", 0, 0)],
                last_batch_at: None,
            },
        ),
    ];
    for (what, doc, observed) in cases {
        let r = results(&doc, &observed, None);
        let value = json_of(&r);
        // Every null figure has its reason.
        for v in value["variants"].as_array().unwrap() {
            for (event, figures) in v["events"].as_object().unwrap() {
                for field in [
                    "rate",
                    "interval",
                    "uplift",
                    "p_value",
                    "chance_to_beat_control",
                ] {
                    if figures[field].is_null() {
                        assert!(
                            figures["reasons"][field].is_string(),
                            "{what}: {} {event} {field} is null without a reason",
                            v["key"]
                        );
                    }
                }
            }
        }
        assert!(r.srm.p_value.is_some() || r.srm.reason.is_some(), "{what}");
    }
}

#[test]
fn unknown_variants_are_listed_apart() {
    let mut observed = typical();
    observed.exposures.push(exposure("retired", 40, 50));
    observed
        .conversions
        .push(conversion("retired", "purchase", 4, 6));
    let r = results(
        &campaign(&[("control", 50), ("story", 50)]),
        &observed,
        None,
    );
    assert_eq!(
        r.unknown_variants,
        [UnknownVariant {
            key: "retired".into(),
            exposed_visitors: 40,
            visits: 50,
            converting_visitors: BTreeMap::from([("purchase".into(), 4)]),
        }]
    );
    assert_eq!(
        r.computed_from.exposed_visitors, 20_050,
        "not in the campaign's totals"
    );
}

#[test]
fn a_forced_60_40_split_is_flagged() {
    let observed = Observed {
        exposures: vec![
            exposure("control", 6_000, 6_000),
            exposure("story", 4_000, 4_000),
        ],
        ..Observed::default()
    };
    let r = results(
        &campaign(&[("control", 50), ("story", 50)]),
        &observed,
        None,
    );
    assert!(r.srm.flagged);
    assert!(r.srm.p_value.is_some_and(|p| p < 1e-80));
    let value = json_of(&r);
    assert_eq!(value["srm"]["threshold"], json!(0.001));
    assert_eq!(value["as_of"], json!(null));
}
