//! Every management API body: parsed with the API's own parser and put through the
//! operation it feeds, on a copy of the festive configuration, then through the one
//! compile of a write (`documents::checked`). Errors are fine; panics are not.

use std::sync::OnceLock;

use edge_router::api::body::parse;
use edge_router::api::campaigns::{create_campaign, CreateCampaign};
use edge_router::api::conversions::{
    payload_hash, verify_conversion, ConversionInput, TestConversionInput,
};
use edge_router::api::documents::{checked, Edit};
use edge_router::api::domains::{add_domain, decide_domain, AddDomain, DecideDomain};
use edge_router::api::pages::{put_draft, PageInput, PageState};
use edge_router::api::rules::{put_rule, put_template, replace_configuration};
use edge_router::api::support::SupportReport;
use edge_router::model::config::{HandleConfig, TemplateDoc};

const LIMIT: usize = 64 * 1024;

fn festive() -> &'static HandleConfig {
    static CONFIG: OnceLock<HandleConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir = super::festive_dir();
        edge_router::model::files::load_dir(&dir)
            .expect("festive rules")
            .0
    })
}

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut config = festive().clone();
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    match selector % 10 {
        0 => {
            if let Ok(b) = parse::<AddDomain>(body, LIMIT) {
                let _ = add_domain(&mut config, b, "t".into());
            }
        }
        1 => {
            if let Ok(b) = parse::<DecideDomain>(body, LIMIT) {
                let _ = decide_domain(&mut config.domains[0], b, "fuzz", "2026-11-22T00:00:00Z");
            }
        }
        2 => {
            if let Ok(v) = parse::<serde_json::Value>(body, LIMIT) {
                if let Ok(edit) = put_rule(&mut config, "fuzzed", v) {
                    check(&config, edit);
                }
            }
        }
        3 => {
            if let Ok(t) = parse::<TemplateDoc>(body, LIMIT) {
                let edit = put_template(&mut config, t);
                check(&config, edit);
            }
        }
        4 => {
            if let Ok(c) = parse::<CreateCampaign>(body, LIMIT) {
                if let Ok(edit) = create_campaign(&mut config, c, "fuzz-campaign".into(), now) {
                    check(&config, edit);
                }
            }
        }
        5 => {
            if let Ok(p) = parse::<PageInput>(body, LIMIT) {
                let _ = put_draft(
                    &mut PageState::default(),
                    "c",
                    p,
                    "fuzz",
                    "2026-11-22T00:00:00Z",
                );
            }
        }
        6 => {
            if let Ok(c) = parse::<ConversionInput>(body, LIMIT) {
                let _ = payload_hash(&c);
                assert!(
                    verify_conversion(b"fuzz-secret-not-guessable-0123456789", &c, now).is_err()
                );
            }
        }
        7 => {
            let _ = parse::<TestConversionInput>(body, LIMIT);
        }
        8 => {
            if let Ok(r) = parse::<SupportReport>(body, LIMIT) {
                let _ = r.validate();
            }
        }
        _ => {
            if let Ok(v) = parse::<serde_json::Value>(body, LIMIT) {
                if let Ok(replacement) = replace_configuration("gharart", v) {
                    check(&replacement, Edit::whole(()));
                }
            }
        }
    }
}

/// The compile of a write: it reports problems or compiles, and never panics.
fn check<T>(config: &HandleConfig, edit: Edit<T>) {
    let _ = checked(config, &edit.focus, edit.problems);
}
