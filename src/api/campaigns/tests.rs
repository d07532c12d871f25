use serde_json::json;

use super::*;
use crate::api::body;
use crate::model::lifecycle::CampaignStatus::*;

fn festive() -> HandleConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/gharart");
    crate::model::files::load_dir(&dir).unwrap().0
}

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

const NOW: &str = "2026-11-10T12:00:00Z";

fn body(value: serde_json::Value) -> CreateCampaign {
    body::from_value(value).unwrap()
}

fn good() -> serde_json::Value {
    json!({
        "name": "Bhai Dooj gift guide",
        "start_date": "2026-11-01T00:00:00Z",
        "end_date": "2026-12-01T00:00:00Z",
        "variants": [
            {"key": "grid", "weight": 50, "destination": "https://www.gharart.com/gifts/grid"},
            {"key": "story", "weight": 50, "destination": "https://www.gharart.com/gifts/story"}
        ],
        "template": "diwali-ab-utm"
    })
}

/// Creates a campaign as the route does: the edit, then the one compile of the write.
fn create(
    config: &mut HandleConfig,
    body: CreateCampaign,
    id: String,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let edit = create_campaign(config, body, id, now)?;
    crate::api::documents::checked(config, &edit.focus, edit.problems)?;
    Ok(edit.value)
}

/// Applies a transition as the route does.
fn transition(
    config: &mut HandleConfig,
    id: &str,
    requested: Transition,
    now: DateTime<Utc>,
) -> Result<(CampaignStatus, CampaignStatus), ApiError> {
    Ok(transition_campaign(config, id, requested, now)?.value)
}

fn errors(err: ApiError) -> Vec<(&'static str, String)> {
    let ApiError::Validation(diagnostics) = err else {
        panic!("{err:?}")
    };
    diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.code, d.path))
        .collect()
}

#[test]
fn uuid_v4_sets_version_and_variant() {
    assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    let id = uuid_v4(*b"0123456789abcdef");
    assert_eq!(id, "30313233-3435-4637-b839-616263646566");
    assert!(crate::model::ids::is_valid_id(&id));
}

#[test]
fn create_defaults_to_draft_and_takes_the_generated_id() {
    let mut config = festive();
    let id = create(&mut config, body(good()), "gen-1".into(), at(NOW)).unwrap();
    assert_eq!(id, "gen-1");
    let doc = find_campaign(&config, "gen-1").unwrap();
    assert_eq!(doc.status, Draft);
    crate::engine::compile::compile(&config).unwrap();

    let mut active = good();
    active["id"] = json!("bhai-dooj");
    active["status"] = json!("active");
    let id = create(&mut config, body(active.clone()), "unused".into(), at(NOW)).unwrap();
    assert_eq!(id, "bhai-dooj");
    assert_eq!(config.campaigns.last().unwrap().status, Active);
    let err = create(&mut config, body(active), "x".into(), at(NOW)).unwrap_err();
    assert_eq!(
        (err.status(), err.code().as_str()),
        (409, "campaign_exists")
    );
}

#[test]
fn create_refuses_other_states_at_creation() {
    for status in ["paused", "canceled", "completed"] {
        let mut value = good();
        value["status"] = json!(status);
        let err = create(&mut festive(), body(value), "c".into(), at(NOW)).unwrap_err();
        assert!(
            matches!(&err, ApiError::Validation(d) if d[0].path == "$.status" && d[0].code == "invalid_status"),
            "{status}: {err:?}"
        );
    }
    let mut value = good();
    value["status"] = json!("running");
    let err = body::from_value::<CreateCampaign>(value).unwrap_err();
    assert!(matches!(&err, body::BodyError::Shape { path, .. } if path == "$.status"));
    let mut value = good();
    value["variants"][1]["weight"] = json!(300);
    let err = body::from_value::<CreateCampaign>(value).unwrap_err();
    assert!(matches!(&err, body::BodyError::Shape { path, .. } if path == "$.variants[1].weight"));
    let mut value = good();
    value["colour"] = json!("red");
    assert_eq!(
        ApiError::from(body::from_value::<CreateCampaign>(value).unwrap_err()).code(),
        "invalid_body"
    );
}

#[test]
fn create_reports_every_problem_relative_to_the_body() {
    let cases: Vec<(serde_json::Value, Vec<(&str, &str)>)> = vec![
        (
            json!({"name": " ", "variants": [
                {"key": "a", "weight": 60, "destination": "https://www.gharart.com/a"},
                {"key": "a", "weight": 30, "destination": "http://www.gharart.com/b"}],
                "template": "nope", "start_date": "soon", "end_date": "2026-11-01T00:00:00Z"}),
            vec![
                ("invalid_name", "$.name"),
                ("end_date_passed", "$.end_date"),
                ("invalid_time", "$.start_date"),
                ("invalid_weights", "$.variants"),
                ("duplicate_id", "$.variants[1].key"),
                ("invalid_url", "$.variants[1].destination"),
                ("unknown_template", "$.template"),
            ],
        ),
        (
            json!({"id": "bad id", "name": "x", "variants": [], "traffic_tags": ["__x"], "seed": ""}),
            vec![
                ("invalid_id", "$.id"),
                ("no_variants", "$.variants"),
                ("invalid_seed", "$.seed"),
                ("invalid_param_name", "$.traffic_tags[0]"),
            ],
        ),
        (
            json!({"name": "x", "start_date": "2026-12-01T00:00:00Z", "end_date": "2026-11-20T00:00:00Z",
                "variants": [{"key": "a", "weight": 100, "destination": "not a url"}]}),
            vec![
                ("invalid_dates", "$.end_date"),
                ("invalid_url", "$.variants[0].destination"),
            ],
        ),
    ];
    for (value, expected) in cases {
        let err = create(&mut festive(), body(value.clone()), "c-1".into(), at(NOW)).unwrap_err();
        let got = errors(err);
        let got: Vec<(&str, &str)> = got.iter().map(|(c, p)| (*c, p.as_str())).collect();
        assert_eq!(got, expected, "{value}");
    }
}

#[test]
fn relative_paths_do_not_confuse_index_1_with_10() {
    let mut config = festive();
    for i in 2..11 {
        let mut value = good();
        value["id"] = json!(format!("c{i}"));
        create(&mut config, body(value), String::new(), at(NOW)).unwrap();
    }
    config.campaigns[10].variants[0].weight = 10;
    config.campaigns[1].variants[1].destination = "ftp://x".into();
    let focus = crate::api::documents::Focus::Document("campaigns[1]".into());
    let got = errors(crate::api::documents::checked(&config, &focus, Vec::new()).unwrap_err());
    assert_eq!(
        got,
        vec![
            ("invalid_url", "$.variants[1].destination".into()),
            ("invalid_weights", "campaigns[10].variants".into()),
        ]
    );
}

/// `(stored, end, transition, expected)`: `Ok((from, to))` or `Err(words in the message)`.
type Row = (
    CampaignStatus,
    Option<&'static str>,
    Transition,
    Result<(CampaignStatus, CampaignStatus), &'static str>,
);

#[test]
fn the_state_machine_on_the_effective_status() {
    use Transition::*;
    const FUTURE: Option<&str> = Some("2027-01-31T00:00:00Z");
    const PAST: Option<&str> = Some("2026-11-01T00:00:00Z");
    let rows: Vec<Row> = vec![
        (Draft, FUTURE, Activate, Ok((Draft, Active))),
        (Draft, None, Activate, Ok((Draft, Active))),
        (Draft, FUTURE, Pause, Err("cannot pause a campaign that is draft; from draft it can activate or cancel")),
        (Draft, FUTURE, Resume, Err("that is draft")),
        (Draft, FUTURE, Cancel, Ok((Draft, Canceled))),
        (Draft, PAST, Activate, Err("end_date 2026-11-01T00:00:00Z has passed")),
        (Draft, PAST, Cancel, Ok((Draft, Canceled))),
        (Active, FUTURE, Pause, Ok((Active, Paused))),
        (Active, FUTURE, Cancel, Ok((Active, Canceled))),
        (Active, FUTURE, Activate, Err("from active it can pause or cancel")),
        (Active, FUTURE, Resume, Err("cannot resume a campaign that is active")),
        (Active, PAST, Pause, Err("cannot pause a campaign that is completed (its end_date 2026-11-01T00:00:00Z has passed); completed is terminal")),
        (Active, PAST, Cancel, Err("that is completed")),
        (Paused, FUTURE, Resume, Ok((Paused, Active))),
        (Paused, FUTURE, Cancel, Ok((Paused, Canceled))),
        (Paused, FUTURE, Pause, Err("from paused it can resume or cancel")),
        (Paused, PAST, Resume, Err("cannot resume a campaign that is paused: its end_date")),
        (Paused, PAST, Cancel, Ok((Paused, Canceled))),
        (Canceled, FUTURE, Resume, Err("cannot resume a campaign that is canceled; canceled is terminal")),
        (Canceled, FUTURE, Activate, Err("canceled is terminal")),
        (Canceled, FUTURE, Cancel, Err("canceled is terminal")),
        (Completed, FUTURE, Resume, Err("completed is terminal")),
    ];
    for (stored, end, requested, expected) in rows {
        let mut config = festive();
        let i = config
            .campaigns
            .iter()
            .position(|c| c.id == "diwali-hero-ab")
            .unwrap();
        config.campaigns[i].status = stored;
        config.campaigns[i].end_date = end.map(str::to_owned);
        let got = transition(&mut config, "diwali-hero-ab", requested, at(NOW));
        let label = format!("{stored} {end:?} {}", requested.as_str());
        match (got, expected) {
            (Ok(got), Ok(want)) => {
                assert_eq!(got, want, "{label}");
                assert_eq!(config.campaigns[i].status, want.1, "{label}: stored");
            }
            (Err(err), Err(words)) => {
                assert_eq!(
                    (err.status(), err.code().as_str()),
                    (409, "invalid_transition"),
                    "{label}"
                );
                assert!(err.to_string().contains(words), "{label}: {err}");
                assert_eq!(config.campaigns[i].status, stored, "{label}: unchanged");
            }
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }
    let err = transition(&mut festive(), "nope", Transition::Pause, at(NOW)).unwrap_err();
    assert_eq!(err.code(), "campaign_not_found");
}

#[test]
fn views_show_the_effective_status_and_routing() {
    let config = festive();
    let views = campaign_views(&config, at(NOW));
    let diwali = &views[0];
    assert_eq!(
        (diwali.doc.status, diwali.stored_status, diwali.scheduled),
        (Active, Active, false)
    );
    assert_eq!(diwali.routed_by, ["in-desktop-diwali-ab"]);
    assert_eq!(
        diwali.allowed_transitions,
        [Transition::Pause, Transition::Cancel]
    );
    assert_eq!(
        diwali.required_tags,
        ["utm_source", "utm_medium", "utm_campaign"]
    );
    assert_eq!(views[1].doc.status, Paused);
    assert_eq!(views[1].routed_by, ["gulf-eid-teaser"]);

    let before = campaign_view(&config, &config.campaigns[0], at("2026-09-01T00:00:00Z"));
    assert!(before.scheduled);
    let after = campaign_view(&config, &config.campaigns[0], at("2027-02-01T00:00:00Z"));
    assert_eq!((after.doc.status, after.stored_status), (Completed, Active));
    assert!(after.allowed_transitions.is_empty());
    let json = serde_json::to_value(&after).unwrap();
    assert_eq!(json["status"], "completed");
    assert_eq!(json["stored_status"], "active");
    assert_eq!(json["id"], "diwali-hero-ab");
    assert!(json.get("stats").is_none());

    let mut config = config;
    for rule in &mut config.rules {
        if rule.id == "in-desktop-diwali-ab" {
            rule.enabled = false;
        }
    }
    assert!(routed_by(&config, "diwali-hero-ab").is_empty());
}

/// The API's transitions reach the router: a paused campaign assigns nothing and says
/// why; resumed, it assigns again.
#[test]
fn transitions_reach_the_router() {
    use crate::engine::device::DeviceCategory;
    use crate::engine::ruleset::{NoVariant, Visit};
    let decide = |config: &HandleConfig| {
        let compiled = crate::engine::compile::compile(config).unwrap();
        let mut facts = crate::Facts::at(at(NOW));
        facts.geo.country = Some("IN".into());
        facts.device = DeviceCategory::Desktop;
        let visit = Visit {
            entry: "festive",
            facts: &facts,
            visitor_id: "visitor-1",
            forced_variant: None,
        };
        let decision = compiled.ruleset.decide(&visit);
        (
            decision.assignment.map(|a| a.variant.key.clone()),
            decision.no_variant.map(|(_, why)| why),
        )
    };
    let mut config = festive();
    let (variant, why) = decide(&config);
    assert!(variant.is_some() && why.is_none());
    transition(&mut config, "diwali-hero-ab", Transition::Pause, at(NOW)).unwrap();
    assert_eq!(
        decide(&config),
        (None, Some(NoVariant::Inactive { status: Paused }))
    );
    transition(&mut config, "diwali-hero-ab", Transition::Resume, at(NOW)).unwrap();
    assert_eq!(decide(&config).0, variant);
    transition(&mut config, "diwali-hero-ab", Transition::Cancel, at(NOW)).unwrap();
    assert_eq!(
        decide(&config),
        (None, Some(NoVariant::Inactive { status: Canceled }))
    );
}
