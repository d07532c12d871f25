//! `router results`: a campaign's results from a running worker
//! (`GET /v2/handles/{handle}/campaigns/{id}/results`), as a table or as the API's JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::common::{print_json, say, CliError, CmdResult, OK, PROBLEMS};
use crate::push::{bearer, check_api_url};

/// What `router results` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ResultsArgs {
    /// Base URL of the worker, e.g. http://127.0.0.1:8787.
    #[arg(long)]
    pub(crate) api: String,
    /// The handle the campaign belongs to.
    #[arg(long, default_value = "gharart")]
    pub(crate) handle: String,
    /// The campaign id.
    #[arg(long)]
    pub(crate) campaign: String,
    /// The event to headline (default: purchase, else the most converted event).
    #[arg(long)]
    pub(crate) event: Option<String>,
    /// API token (PAT or JWT) with the campaigns:read scope for the handle.
    #[arg(long, env = "ROUTER_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Read the API token from this file (e.g. .dev/pat-gharart).
    #[arg(long, conflicts_with = "token")]
    pub(crate) token_file: Option<PathBuf>,
    /// Seconds to wait for the API.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
}

/// Fetches and prints the results; exit 1 when the split is a sample-ratio mismatch.
pub(crate) fn results(args: &ResultsArgs, json: bool) -> CmdResult {
    let base = args.api.trim().trim_end_matches('/');
    check_api_url(&args.api, base)?;
    let token = bearer(
        args.token.as_deref(),
        args.token_file.as_deref(),
        "campaigns:read",
    )?;
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut url = format!(
        "{base}/v2/handles/{}/campaigns/{}/results",
        encode(&args.handle),
        encode(&args.campaign)
    );
    if let Some(event) = &args.event {
        url.push_str(&format!("?event={}", encode(event)));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(args.timeout.max(1))))
        .user_agent(concat!("router/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| CliError::Unreachable(format!("cannot reach {url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).map_err(|_| {
        let snippet: String = text.chars().take(200).collect();
        CliError::Unreachable(format!("{url} answered {status} with no JSON: {snippet:?}"))
    })?;
    if status != 200 {
        let error = at(&answer, "/error");
        return Err(CliError::Api {
            status,
            code: at(error, "/code")
                .as_str()
                .unwrap_or("unexpected_response")
                .to_owned(),
            message: at(error, "/message")
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            request_id: at(error, "/request_id").as_str().map(str::to_owned),
            details: None,
        });
    }
    let flagged = at(&answer, "/srm/flagged").as_bool().unwrap_or(false);
    if json {
        let mut out = answer;
        if let Some(object) = out.as_object_mut() {
            object.insert("ok".into(), Value::Bool(!flagged));
        }
        print_json(&out)?;
    } else {
        print_table(&answer);
    }
    Ok(ExitCode::from(if flagged { PROBLEMS } else { OK }))
}

/// The value at a JSON pointer (`null` when there is none).
fn at<'v>(value: &'v Value, pointer: &str) -> &'v Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

fn percent(x: &Value) -> String {
    x.as_f64()
        .map_or("-".to_owned(), |x| format!("{:.2}%", x * 100.0))
}

fn signed_percent(x: &Value) -> String {
    x.as_f64()
        .map_or("-".to_owned(), |x| format!("{:+.1}%", x * 100.0))
}

fn interval(pair: &Value, show: fn(&Value) -> String) -> String {
    match pair.as_array().map(Vec::as_slice) {
        Some([lo, hi]) => format!("[{}, {}]", show(lo), show(hi)),
        _ => "-".to_owned(),
    }
}

/// The results as a table, one row per variant for the primary event, then the split.
fn print_table(r: &Value) {
    let event = at(r, "/primary_event/name").as_str().unwrap_or("purchase");
    say!(
        "{} (configuration version {}): results as of {}",
        at(r, "/campaign").as_str().unwrap_or("?"),
        at(r, "/version"),
        at(r, "/as_of")
            .as_str()
            .unwrap_or("(no exposures landed yet)")
    );
    say!(
        "event {event} ({}); other events: {}",
        at(r, "/primary_event/chosen_by").as_str().unwrap_or("?"),
        at(r, "/events")
            .as_array()
            .map(|e| {
                let others: Vec<&str> = e
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|e| *e != event)
                    .collect();
                if others.is_empty() {
                    "none".to_owned()
                } else {
                    others.join(", ")
                }
            })
            .unwrap_or_default()
    );
    say!(
        "{:<16} {:>6} {:>9} {:>9} {:>10} {:>8} {:>18} {:>8} {:>18} {:>9} {:>8}",
        "variant",
        "weight",
        "exposed",
        "visits",
        "converting",
        "rate",
        "95% interval",
        "uplift",
        "95% interval",
        "p-value",
        "P(beat)"
    );
    for v in at(r, "/variants")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let e = at(v, "/events").get(event).unwrap_or(&Value::Null);
        let control = at(v, "/is_control").as_bool().unwrap_or(false);
        say!(
            "{:<16} {:>6} {:>9} {:>9} {:>10} {:>8} {:>18} {:>8} {:>18} {:>9} {:>8}",
            format!(
                "{}{}",
                at(v, "/key").as_str().unwrap_or("?"),
                if control { " (control)" } else { "" }
            ),
            at(v, "/weight"),
            at(v, "/exposed_visitors"),
            at(v, "/visits"),
            at(e, "/converting_visitors"),
            percent(at(e, "/rate")),
            interval(at(e, "/interval"), percent),
            signed_percent(at(e, "/uplift/estimate")),
            interval(at(e, "/uplift/interval"), signed_percent),
            at(e, "/p_value")
                .as_f64()
                .map_or("-".to_owned(), |p| format!("{p:.4}")),
            percent(at(e, "/chance_to_beat_control")),
        );
    }
    let srm = at(r, "/srm");
    let verdict = match (at(srm, "/flagged").as_bool(), at(srm, "/reason").as_str()) {
        (Some(true), _) => "MISMATCH: do not trust these results until it is explained",
        (_, Some(_)) => "not applicable",
        _ => "matches the weights",
    };
    say!(
        "sample ratio: {verdict} (chi-square {}, p = {}{})",
        at(srm, "/chi_square")
            .as_f64()
            .map_or("-".to_owned(), |x| format!("{x:.2}")),
        at(srm, "/p_value")
            .as_f64()
            .map_or("-".to_owned(), |p| format!("{p:.3e}")),
        at(srm, "/reason")
            .as_str()
            .map(|r| format!(", {r}"))
            .unwrap_or_default()
    );
}
