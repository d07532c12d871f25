//! Tests of the route preview matrix, on the festive rules.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::engine::compile::compile;

fn festive() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    let (config, _) = crate::model::files::load_dir(&dir).expect("festive rules load");
    compile(&config).expect("festive rules compile").ruleset
}

fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("test time")
}

const NOW: &str = "2026-11-22T10:00:00Z";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn cell<'m>(m: &'m Matrix, country: Option<&str>, device: DeviceCategory) -> &'m Cell {
    m.cells
        .iter()
        .find(|c| c.country.as_deref() == country && c.device == device)
        .expect("cell exists")
}

/// (country, device, outcome, rule, destination)
type CellCase = (
    Option<&'static str>,
    DeviceCategory,
    Outcome,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn festive_cells() {
    use DeviceCategory::*;
    let set = festive();
    let m = matrix(&set, "festive", &[], &[], at(NOW)).expect("matrix");
    // in-desktop-diwali-ab lists its variants instead of one destination.
    #[rustfmt::skip]
    let cases: Vec<CellCase> = vec![
        (Some("IN"), Mobile, Outcome::Rule, Some("in-mobile"), Some("https://m.gharart.in/festive")),
        (Some("IN"), Tablet, Outcome::Rule, Some("in-tablet"), Some("https://gharart.in/festive/tablet")),
        (Some("IN"), Desktop, Outcome::Rule, Some("in-desktop-diwali-ab"), None),
        (Some("AE"), Desktop, Outcome::Rule, Some("gulf"), Some("https://ae.gharart.com/festive")),
        (Some("AE"), Mobile, Outcome::Rule, Some("gulf-mobile"), Some("https://ae.gharart.com/m/festive")),
        (Some("GB"), Tablet, Outcome::Rule, Some("uk-mobile"), Some("https://uk.gharart.com/m/festive")),
        (Some("US"), Desktop, Outcome::Rule, Some("us"), Some("https://us.gharart.com/festive")),
        (Some("DE"), Desktop, Outcome::Rule, Some("eu"), Some("https://eu.gharart.com/festive")),
        (None, Mobile, Outcome::Rule, Some("rest-of-world"), Some("https://www.gharart.com/festive/world")),
    ];
    for (country, device, outcome, rule, destination) in cases {
        let c = cell(&m, country, device);
        let got = (c.outcome, c.rule.as_deref(), c.destination.as_deref());
        assert_eq!(got, (outcome, rule, destination), "{country:?} {device}");
    }
    assert_eq!(
        cell(&m, Some("IN"), Mobile).location.as_deref(),
        Some("https://m.gharart.in/festive?gh_rule=in-mobile&utm_campaign=festive-2026&utm_content=IN-mobile&utm_medium=redirect&utm_source=gharart-edge")
    );
    // With no country, the template's `{country}-{device}` has no value: utm_content is
    // left out.
    assert_eq!(
        cell(&m, None, Desktop).location.as_deref(),
        Some("https://www.gharart.com/festive/world?gh_rule=rest-of-world&utm_campaign=festive-2026&utm_medium=redirect&utm_source=gharart-edge")
    );
}

#[test]
fn a_campaign_cell_lists_every_variant() {
    let set = festive();
    let m = matrix(
        &set,
        "festive",
        &strings(&["in"]),
        &[DeviceCategory::Desktop],
        at(NOW),
    )
    .expect("matrix");
    assert_eq!(m.cells.len(), 1);
    let c = &m.cells[0];
    assert_eq!(
        (c.location.as_deref(), c.destination.as_deref()),
        (None, None)
    );
    let shape = serde_json::to_value(c.campaign.as_ref().expect("campaign")).expect("serialises");
    let variant = |key: &str, page: &str| {
        json!({
            "key": key, "weight": 50,
            "destination": format!("https://www.gharart.com/festive/{page}"),
            "location": format!("https://www.gharart.com/festive/{page}?gh_rule=in-desktop-diwali-ab&utm_campaign=diwali-hero-ab&utm_content={key}&utm_medium=redirect&utm_source=gharart-edge"),
            "unroutable": null
        })
    };
    assert_eq!(
        shape,
        json!({
            "id": "diwali-hero-ab", "status": "active",
            "variants": [variant("control", "diwali-hero-a"), variant("story", "diwali-hero-b")],
            "no_variant": null
        })
    );
    assert_eq!(
        m.legend,
        vec![LegendItem {
            kind: LegendKind::Campaign,
            key: "campaign:diwali-hero-ab".into(),
            cells: 1
        }]
    );
}

#[test]
fn before_the_campaign_starts_the_rule_sends_to_its_own_page() {
    let set = festive();
    let m = matrix(
        &set,
        "festive",
        &strings(&["IN"]),
        &[DeviceCategory::Desktop],
        at("2026-09-01T00:00:00Z"),
    )
    .expect("matrix");
    let c = &m.cells[0];
    assert_eq!(
        c.destination.as_deref(),
        Some("https://www.gharart.com/festive/diwali")
    );
    let campaign = c.campaign.as_ref().expect("campaign");
    assert_eq!(
        (campaign.status, campaign.variants.is_none()),
        (CampaignStatus::Active, true)
    );
    assert_eq!(campaign.no_variant, Some(NoVariant::NotStarted));
}

#[test]
fn defaults() {
    let set = festive();
    let (countries, omitted) = default_countries(&set, "festive").expect("entry");
    let want: Vec<Option<String>> = ["IN", "AE", "GB", "US", "DE", "BH", "KW", "OM", "QA", "SA"]
        .iter()
        .map(|c| Some((*c).to_owned()))
        .chain([None])
        .collect();
    assert_eq!((countries, omitted), (want, vec![]));
    use DeviceCategory::*;
    assert_eq!(
        default_devices(&set, "festive").expect("entry"),
        [Desktop, Mobile, Tablet]
    );
    // crawler-diwali-sale targets crawlers.
    assert_eq!(
        default_devices(&set, "diwali-sale").expect("entry"),
        [Desktop, Mobile, Tablet, Crawler]
    );
    let m = matrix(&set, "diwali-sale", &strings(&["GB"]), &[], at(NOW)).expect("matrix");
    assert_eq!(
        cell(&m, Some("GB"), Crawler).rule.as_deref(),
        Some("crawler-diwali-sale")
    );
    assert_eq!(
        cell(&m, Some("GB"), Mobile).rule.as_deref(),
        Some("uk-diwali-sale")
    );
    let m = matrix(&set, "festive", &[], &[], at(NOW)).expect("matrix");
    assert_eq!(
        (m.countries.len(), m.devices.len(), m.cells.len()),
        (11, 3, 33)
    );
    assert_eq!(m.legend.iter().map(|l| l.cells).sum::<usize>(), 33);
    for (i, c) in m.cells.iter().enumerate() {
        assert_eq!(
            (c.country.as_ref(), c.device),
            (m.countries[i / 3].as_ref(), m.devices[i % 3])
        );
    }
}

#[test]
fn an_entry_without_rules_and_an_unroutable_default_gets_the_fallback() {
    let set = festive();
    let m = matrix(
        &set,
        "partner-offers",
        &strings(&["IN", "unknown"]),
        &[],
        at(NOW),
    )
    .expect("matrix");
    assert!(m
        .cells
        .iter()
        .all(|c| c.outcome == Outcome::HandleFallback && c.rule.is_none()));
    assert_eq!(
        m.legend,
        vec![LegendItem {
            kind: LegendKind::Destination,
            key: "https://www.gharart.com/".into(),
            cells: 6
        }]
    );
}

#[test]
fn the_legend_counts_destinations() {
    let set = festive();
    let m = matrix(
        &set,
        "festive",
        &strings(&["SA", "QA", "XX", "in"]),
        &[DeviceCategory::Desktop],
        at(NOW),
    )
    .expect("matrix");
    assert_eq!(
        m.countries,
        [
            Some("SA".to_owned()),
            Some("QA".to_owned()),
            None,
            Some("IN".to_owned())
        ]
    );
    let legend: Vec<(&str, usize)> = m.legend.iter().map(|l| (l.key.as_str(), l.cells)).collect();
    assert_eq!(
        legend,
        [
            ("https://ae.gharart.com/festive", 2),
            ("https://www.gharart.com/festive/world", 1),
            ("campaign:diwali-hero-ab", 1)
        ]
    );
    assert_eq!(
        m.cells.iter().map(|c| c.legend).collect::<Vec<_>>(),
        [0, 0, 1, 2]
    );
}

#[test]
fn input_validation() {
    let set = festive();
    let now = at(NOW);
    let err = |countries: &[String], devices: &[DeviceCategory], entry: &str| {
        matrix(&set, entry, countries, devices, now).expect_err("invalid")
    };
    assert_eq!(
        err(&[], &[], "nope"),
        MatrixError::UnknownEntry("nope".into())
    );
    assert_eq!(
        err(&strings(&["IN", "IND"]), &[], "festive"),
        MatrixError::InvalidCountry("IND".into())
    );
    assert_eq!(
        err(&strings(&[""]), &[], "festive"),
        MatrixError::InvalidCountry("".into())
    );
    let many: Vec<String> = crate::engine::geo::known_countries()
        .take(61)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        err(&many, &[], "festive"),
        MatrixError::TooManyCountries(61)
    );
    assert!(matrix(&set, "festive", &many[..60], &[], now).is_ok());
    let devices = [DeviceCategory::ALL.as_slice(), &[DeviceCategory::Mobile]].concat();
    assert_eq!(
        err(&[], &devices, "festive"),
        MatrixError::TooManyDevices(6)
    );
    assert_eq!(
        err(&strings(&["IND"]), &[], "festive").to_string(),
        "\"IND\" is not an ISO 3166-1 alpha-2 country code such as IN (or `unknown`)"
    );
    // Duplicates (after normalising) are one row.
    let m = matrix(
        &set,
        "festive",
        &strings(&["in", "IN", "unknown", "xx"]),
        &[DeviceCategory::Mobile, DeviceCategory::Mobile],
        now,
    )
    .expect("matrix");
    assert_eq!((m.countries.len(), m.devices.len()), (2, 1));
}

#[test]
fn the_json_shape() {
    let set = festive();
    let m = matrix(
        &set,
        "festive",
        &strings(&["unknown"]),
        &[DeviceCategory::Mobile],
        at(NOW),
    )
    .expect("matrix");
    assert_eq!(
        serde_json::to_value(&m).expect("serialises"),
        json!({
            "handle": "gharart", "entry": "festive", "at": "2026-11-22T10:00:00Z",
            "countries": [null], "devices": ["mobile"],
            "cells": [{
                "country": null, "device": "mobile", "outcome": "rule", "rule": "rest-of-world",
                "destination": "https://www.gharart.com/festive/world",
                "location": "https://www.gharart.com/festive/world?gh_rule=rest-of-world&utm_campaign=festive-2026&utm_medium=redirect&utm_source=gharart-edge",
                "campaign": null, "legend": 0
            }],
            "legend": [{"kind": "destination", "key": "https://www.gharart.com/festive/world", "cells": 1}]
        })
    );
}
