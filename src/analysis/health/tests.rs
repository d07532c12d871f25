use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::analysis::results::ExposureRow;
use crate::model::config::TemplateDoc;

const NOW: &str = "2026-11-10T12:00:00Z";
const ID: &str = "diwali-hero-ab";

fn festive() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    crate::model::files::load_dir(&dir).unwrap().0
}

/// A scenario: the festive configuration, changed before compiling (`setup`) and,
/// for states compile refuses, after (`after`).
struct Scenario {
    setup: fn(&mut HandleConfig),
    after: fn(&mut HandleConfig),
    now: &'static str,
    page: Option<PageState>,
    tests: &'static [(&'static str, u64)],
    exposures: Vec<ExposureRow>,
}

fn nothing(_: &mut HandleConfig) {}

fn base() -> Scenario {
    Scenario {
        setup: nothing,
        after: nothing,
        now: NOW,
        page: None,
        tests: &[],
        exposures: Vec::new(),
    }
}

fn campaign(config: &mut HandleConfig) -> &mut CampaignDoc {
    config.campaigns.iter_mut().find(|c| c.id == ID).unwrap()
}

/// A page written once per level (revisions 1, 2, ...), published where it says.
fn page(levels: &[(AccessLevel, bool)]) -> Option<PageState> {
    let mut state = PageState::default();
    for (revision, (level, published)) in (1..).zip(levels) {
        let draft = PageRevision {
            revision,
            access_level: *level,
            document: json!({"title": "Diwali", "blocks": [{"type": "login_gate"}]}),
            updated_at: NOW.into(),
            updated_by: "priya".into(),
            published_at: None,
            published_by: None,
        };
        if *published {
            state.published = Some(PageRevision {
                published_at: Some(NOW.into()),
                published_by: Some("priya".into()),
                ..draft.clone()
            });
        }
        state.draft = Some(draft);
    }
    Some(state)
}

impl Scenario {
    fn run(&self) -> Health {
        let mut config = festive();
        (self.setup)(&mut config);
        let compiled = crate::engine::compile::compile(&config).unwrap();
        (self.after)(&mut config);
        let tests: BTreeMap<String, u64> = self
            .tests
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect();
        let now = self.now.parse().unwrap();
        health(
            &config,
            &compiled.ruleset,
            ID,
            now,
            self.page.as_ref(),
            &tests,
            &self.exposures,
        )
        .unwrap()
    }
}

fn thin_template(config: &mut HandleConfig) {
    config.templates.push(TemplateDoc {
        id: "thin".into(),
        params: BTreeMap::from([
            ("utm_source".into(), "edge".into()),
            ("gh_ctx".into(), "{ctx}".into()),
        ]),
        precedence: None,
    });
    campaign(config).template = Some("thin".into());
}

#[test]
fn every_check_passes_warns_and_fails() {
    use CheckStatus::*;
    let cases: Vec<(&str, Scenario, &str, CheckStatus, &str)> = vec![
        ("active", base(), "status", Pass, "active"),
        ("draft", Scenario { setup: |c| campaign(c).status = CampaignStatus::Draft, ..base() }, "status", Warn, "draft"),
        ("paused", Scenario { setup: |c| campaign(c).status = CampaignStatus::Paused, ..base() }, "status", Warn, "paused"),
        ("canceled", Scenario { setup: |c| campaign(c).status = CampaignStatus::Canceled, ..base() }, "status", Fail, "terminal"),
        ("completed", Scenario { now: "2027-02-01T00:00:00Z", ..base() }, "status", Fail, "completed: its end_date 2027-01-31T00:00:00Z has passed"),
        ("dates ok", base(), "dates", Pass, "runs from 2026-10-01T00:00:00Z until 2027-01-31T00:00:00Z"),
        ("no end", Scenario { setup: |c| campaign(c).end_date = None, ..base() }, "dates", Warn, "no end_date"),
        ("not started", Scenario { now: "2026-09-01T00:00:00Z", ..base() }, "dates", Warn, "not started: it assigns variants from 2026-10-01T00:00:00Z"),
        ("ended", Scenario { now: "2027-02-01T00:00:00Z", ..base() }, "dates", Warn, "it ended at 2027-01-31T00:00:00Z"),
        ("start after end", Scenario { after: |c| campaign(c).start_date = Some("2027-06-01T00:00:00Z".into()), ..base() }, "dates", Fail, "end_date is not after start_date"),
        ("weights ok", base(), "weights", Pass, "2 variants: control 50, story 50"),
        ("one variant", Scenario { setup: |c| { let v = &mut campaign(c).variants; v.truncate(1); v[0].weight = 100; }, ..base() }, "weights", Warn, "one variant (control) is not an A/B test"),
        ("zero weight", Scenario { setup: |c| { let v = &mut campaign(c).variants; let mut z = v[1].clone(); z.key = "quiet".into(); z.weight = 0; v.push(z); }, ..base() }, "weights", Warn, "weight 0: quiet"),
        ("sum 90", Scenario { after: |c| campaign(c).variants[0].weight = 40, ..base() }, "weights", Fail, "weights sum to 90, not 100 (control 40, story 50)"),
        ("no variants", Scenario { after: |c| campaign(c).variants.clear(), ..base() }, "weights", Fail, "no variants"),
        ("routable", base(), "variant_destinations", Pass, "routable"),
        ("pending domain", Scenario { setup: |c| campaign(c).variants[1].destination = "https://offers.gharart-deals.com/diwali-b".into(), ..base() }, "variant_destinations", Fail, "story (https://offers.gharart-deals.com/diwali-b): offers.gharart-deals.com is not verified"),
        ("routed", base(), "routing", Pass, "routed by in-desktop-diwali-ab"),
        ("unrouted", Scenario { setup: |c| c.rules.iter_mut().filter(|r| r.id == "in-desktop-diwali-ab").for_each(|r| r.enabled = false), ..base() }, "routing", Warn, "gets no traffic (disabled: in-desktop-diwali-ab)"),
        ("tags ok", base(), "traffic_tags", Pass, "template diwali-ab-utm sets utm_source, utm_medium, utm_campaign"),
        ("tags missing", Scenario { setup: thin_template, ..base() }, "traffic_tags", Fail, "template thin (the campaign) does not set utm_medium, utm_campaign"),
        ("tags from destinations", Scenario { setup: |c| { thin_template(c); for v in &mut campaign(c).variants { v.destination.push_str("?utm_medium=edge&utm_campaign=diwali"); } }, ..base() }, "traffic_tags", Pass, "template thin sets"),
        ("own tag list", Scenario { setup: |c| campaign(c).traffic_tags = Some(vec!["utm_content".into()]), ..base() }, "traffic_tags", Pass, "sets utm_content"),
        ("tag needs the country", Scenario { setup: |c| { let d = campaign(c); d.template = Some("festive-utm".into()); d.traffic_tags = Some(vec!["utm_content".into()]); }, ..base() }, "traffic_tags", Warn, "leaves out utm_content"),
        ("default template via rule", Scenario { setup: |c| campaign(c).template = None, ..base() }, "traffic_tags", Pass, "template festive-utm sets"),
        ("no template", Scenario { setup: |c| { campaign(c).template = None; c.default_template = None; }, ..base() }, "traffic_tags", Fail, "no template (the handle's default (rule in-desktop-diwali-ab, entry festive)) sets none of"),
        ("ctx ok", base(), "ctx_token", Pass, "diwali-ab-utm as gh_ctx"),
        ("ctx missing", Scenario { setup: |c| campaign(c).template = Some("whatsapp-utm".into()), ..base() }, "ctx_token", Fail, "template whatsapp-utm (the campaign) carries no {ctx}"),
        ("no page", base(), "campaign_page", Fail, "no campaign page"),
        ("draft page", Scenario { page: page(&[(AccessLevel::FreeWithLogin, false)]), ..base() }, "campaign_page", Fail, "never published"),
        ("public page", Scenario { page: page(&[(AccessLevel::Public, true)]), ..base() }, "campaign_page", Fail, "is PUBLIC, not FREE_WITH_LOGIN; PUT it"),
        ("fix in draft", Scenario { page: page(&[(AccessLevel::Paid, true), (AccessLevel::FreeWithLogin, false)]), ..base() }, "campaign_page", Fail, "is PAID, not FREE_WITH_LOGIN; the draft has it"),
        ("published", Scenario { page: page(&[(AccessLevel::FreeWithLogin, true)]), ..base() }, "campaign_page", Pass, "published with FREE_WITH_LOGIN (revision 1)"),
        ("unpublished changes", Scenario { page: page(&[(AccessLevel::FreeWithLogin, true), (AccessLevel::FreeWithLogin, false)]), ..base() }, "campaign_page", Warn, "the draft (revision 2) has unpublished changes"),
        ("no tests", base(), "test_conversions", Warn, "no test conversion recorded for control, story"),
        ("one test", Scenario { tests: &[("control", 2), ("story", 0)], ..base() }, "test_conversions", Warn, "recorded for story;"),
        ("all tested", Scenario { tests: &[("control", 1), ("story", 3)], ..base() }, "test_conversions", Pass, "every variant"),
    ];
    for (name, scenario, id, status, words) in cases {
        let health = scenario.run();
        let check = health.check(id).unwrap();
        assert_eq!(check.status, status, "{name}: {}", check.reason);
        assert!(
            check.reason.contains(words),
            "{name}: {:?} lacks {words:?}",
            check.reason
        );
        assert_eq!(
            health.status,
            health.checks.iter().map(|c| c.status).max().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn a_ready_campaign_is_healthy_and_the_shape_is_stable() {
    let ready = Scenario {
        page: page(&[(AccessLevel::FreeWithLogin, true)]),
        tests: &[("control", 1), ("story", 1)],
        ..base()
    };
    let report = ready.run();
    assert_eq!(report.status, CheckStatus::Pass, "{report:#?}");
    let json = serde_json::to_value(&report).unwrap();
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "status",
            "dates",
            "weights",
            "variant_destinations",
            "routing",
            "traffic_tags",
            "ctx_token",
            "campaign_page",
            "test_conversions",
            "sample_ratio"
        ]
    );
    assert_eq!(json["status"], "pass");
    assert_eq!(json["campaign_status"], "active");
    assert_eq!(json["checked_at"], NOW);
    assert_eq!(json["checks"][3]["details"][1]["variant"], "story");

    let fresh = base().run();
    assert_eq!(fresh.status, CheckStatus::Fail, "no page yet");
    let config = festive();
    let compiled = crate::engine::compile::compile(&config).unwrap();
    let gulf = health(
        &config,
        &compiled.ruleset,
        "gulf-eid-teaser",
        NOW.parse().unwrap(),
        None,
        &BTreeMap::new(),
        &[],
    )
    .unwrap();
    assert_eq!(gulf.check("status").unwrap().status, CheckStatus::Warn);
    let err = health(
        &config,
        &compiled.ruleset,
        "nope",
        NOW.parse().unwrap(),
        None,
        &BTreeMap::new(),
        &[],
    );
    assert!(err.is_none(), "an unknown campaign has no health");
}

fn exposed(counts: &[(&str, u64)]) -> Vec<ExposureRow> {
    counts
        .iter()
        .map(|(variant, n)| ExposureRow {
            variant: (*variant).to_owned(),
            exposed_visitors: *n,
            visits: *n,
        })
        .collect()
}

#[test]
fn sample_ratio_fails_a_60_40_split_at_50_50_and_passes_otherwise() {
    let ready = |exposures: Vec<ExposureRow>| {
        Scenario {
            page: page(&[(AccessLevel::FreeWithLogin, true)]),
            tests: &[("control", 1), ("story", 1)],
            exposures,
            ..base()
        }
        .run()
    };
    // The golden vector srm-60-40-at-50-50: chi-square 400, p 5.5e-89.
    let skewed = ready(exposed(&[("control", 6000), ("story", 4000)]));
    let c = skewed.check("sample_ratio").unwrap();
    assert_eq!(
        (c.status, skewed.status),
        (CheckStatus::Fail, CheckStatus::Fail)
    );
    assert!(
        c.reason
            .contains("control 6000 (weight 50), story 4000 (weight 50)"),
        "{}",
        c.reason
    );
    assert!(c.reason.contains("p = 5.507e-89"), "{}", c.reason);
    let details = c.details.clone().unwrap();
    assert_eq!(details["chi_square"], 400.0);
    assert_eq!(details["flagged"], true);
    assert_eq!(details["observed"], json!({"control": 6000, "story": 4000}));

    // Rows of one variant add up (daily rows may come as they are).
    let even = ready(exposed(&[
        ("control", 2500),
        ("story", 5010),
        ("control", 2500),
    ]));
    let c = even.check("sample_ratio").unwrap();
    assert_eq!(
        (c.status, even.status),
        (CheckStatus::Pass, CheckStatus::Pass),
        "{c:?}"
    );
    assert!(
        c.reason
            .starts_with("the split matches the weights: control 5000"),
        "{}",
        c.reason
    );

    let none = ready(Vec::new());
    let c = none.check("sample_ratio").unwrap();
    assert_eq!(c.status, CheckStatus::Pass);
    assert_eq!(c.reason, "not applicable yet: no exposed visitors");
    assert_eq!(c.details.as_ref().unwrap()["applicable"], false);

    // Exposures under a variant the campaign does not have are not part of its split.
    let stray = ready(exposed(&[("gone", 900), ("control", 10), ("story", 11)]));
    assert_eq!(
        stray.check("sample_ratio").unwrap().status,
        CheckStatus::Pass
    );
}
