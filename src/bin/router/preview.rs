//! `router preview`: one visit decided offline from the rule files through
//! [`edge_router::visit::plan()`], the function the worker runs: the options become the
//! request's parts (geo as `request.cf` would give it, the device from `--user-agent` or
//! given, `Accept-Language`, the visitor cookie, the query) and the overrides reserved
//! query parameters under a preview token signed here, so the answer is the worker's
//! explain trace. Like any preview it sets no cookie and issues no ctx token.

use std::path::PathBuf;

use edge_router::engine::device::DeviceFacts;
use edge_router::engine::explain::Explanation;
use edge_router::engine::facts::FactSource;
use edge_router::engine::geo::{normalise_country, GeoFacts, GeoSource};
use edge_router::engine::ruleset::NoVariant;
use edge_router::engine::snapshot::Loaded;
use edge_router::visit::headers::{is_visitor_id, COOKIE};
use edge_router::visit::plan::{
    plan, DeviceInput, GeoInput, HeldSnapshot, Plan, RequestParts, VisitSettings,
};
use edge_router::visit::reserved_query::split_query;
use edge_router::visit::tokens::{self, PreviewClaims, TokenKind};
use edge_router::visit::user_agent::{classify, DeviceHeaders};
use edge_router::Outcome;

use crate::common::{
    check_entry, exit, parse_at, print_json, rules_or_report, say, CliError, CmdResult,
};

/// The visitor id bucketing uses when `--visitor` is not given.
pub(crate) const DEFAULT_VISITOR: &str = "00000000000000000000000000000000";

/// Signs the preview token of a local preview; it never leaves the process.
const LOCAL_SECRET: &[u8] = b"router preview: a local, in-process secret";

/// What `router preview` was asked.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PreviewArgs {
    /// The handle's rule directory.
    pub(crate) dir: PathBuf,
    /// The entry slug (the path after the handle), e.g. festive.
    #[arg(long)]
    pub(crate) entry: String,
    /// Visitor country, ISO 3166-1 alpha-2 (IN).
    #[arg(long)]
    pub(crate) country: Option<String>,
    /// Visitor region: MH or IN-MH (a CC-SUB code implies its country).
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// Visitor city.
    #[arg(long)]
    pub(crate) city: Option<String>,
    /// Autonomous system number of the visitor's network.
    #[arg(long)]
    pub(crate) asn: Option<u32>,
    /// Device category: desktop, mobile, tablet, crawler, other (overrides --user-agent).
    #[arg(long)]
    pub(crate) device: Option<String>,
    /// Operating system, e.g. ios, android, windows (overrides --user-agent).
    #[arg(long)]
    pub(crate) os: Option<String>,
    /// Browser, e.g. safari, chrome (overrides --user-agent).
    #[arg(long)]
    pub(crate) browser: Option<String>,
    /// Language: a tag (ar) or a whole Accept-Language header (ar-AE,ar;q=0.9,en;q=0.5).
    #[arg(long)]
    pub(crate) lang: Option<String>,
    /// A User-Agent string, classified with woothee as the worker does.
    #[arg(long)]
    pub(crate) user_agent: Option<String>,
    /// The Sec-CH-UA-Mobile client hint (?1 or ?0), with --user-agent.
    #[arg(long, requires = "user_agent")]
    pub(crate) ch_mobile: Option<String>,
    /// The Sec-CH-UA-Platform client hint ("Android"), with --user-agent.
    #[arg(long, requires = "user_agent")]
    pub(crate) ch_platform: Option<String>,
    /// A visitor query parameter NAME=VALUE (repeat for more); forwarded like the worker.
    #[arg(long = "query", value_name = "NAME=VALUE")]
    pub(crate) query: Vec<String>,
    /// Decide at this RFC 3339 time instead of now.
    #[arg(long)]
    pub(crate) at: Option<String>,
    /// Visitor id for A/B bucketing: the `gh_vid` cookie value (32 lower-case hex digits).
    #[arg(long, default_value = DEFAULT_VISITOR)]
    pub(crate) visitor: String,
    /// Force a variant of the winning rule's campaign (also draft or paused ones).
    #[arg(long)]
    pub(crate) variant: Option<String>,
    /// Also print the trace: every fact with its source, every rule with why it won,
    /// did not match, was skipped or was not reached.
    #[arg(long)]
    pub(crate) explain: bool,
}

/// Decides the visit; exit 1 when the visitor would get the safe page.
pub(crate) fn preview(args: &PreviewArgs, json: bool) -> CmdResult {
    let rules = match rules_or_report(&args.dir, json) {
        Ok(rules) => rules,
        Err(reported) => return reported,
    };
    check_entry(&rules, &args.entry)?;
    let visitor_id = args.visitor.as_str();
    if !is_visitor_id(visitor_id) {
        return Err(CliError::Usage(format!(
            "--visitor {visitor_id:?} is not a visitor id: 32 lower-case hex digits, as in the gh_vid cookie"
        )));
    }
    let now = parse_at(args.at.as_deref())?;
    let token = tokens::sign(
        TokenKind::Preview,
        LOCAL_SECRET,
        PreviewClaims {
            handle: rules.compiled.ruleset.handle().to_owned(),
            sub: None,
        },
        now.timestamp(),
        60,
    );
    let query = query_string(args, &token)?;
    let geo = geo(args)?;
    let device = device(args);
    let cookie = format!("{COOKIE}={visitor_id}");
    let parts = RequestParts {
        request_id: "router-preview",
        entry: &args.entry,
        query: &query,
        cookie: Some(&cookie),
        accept_language: args.lang.as_deref(),
        device: DeviceInput::Known(device),
        geo: GeoInput {
            cf: (!geo.is_empty()).then_some(geo),
            ..GeoInput::default()
        },
    };
    let settings = VisitSettings {
        geo_order: vec![GeoSource::Cf],
        token_secret: Some(LOCAL_SECRET.to_vec()),
        ctx_ttl_seconds: 0,
        safe_fallback: None,
    };
    let loaded = Loaded {
        version: 0,
        generation: 0,
        published_at: String::new(),
        ruleset: rules.compiled.ruleset,
    };
    let held = HeldSnapshot {
        loaded: &loaded,
        stale: false,
    };
    let Plan::Explain {
        mut explanation, ..
    } = plan(held, &parts, &settings, now, None)
    else {
        return Err(CliError::Usage(
            "the preview token was refused; this is a bug".to_owned(),
        ));
    };
    relabel(args, &mut explanation);
    let location = explanation.location.is_some();
    if json {
        let mut value = serde_json::to_value(&explanation)
            .map_err(|e| CliError::Usage(format!("cannot render JSON: {e}")))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("visitor_id".into(), visitor_id.into());
            for key in ["request_id", "snapshot_version", "preview", "preview_sub"] {
                object.remove(key);
            }
            if !args.explain {
                object.remove("rules");
            }
        }
        print_json(&value)?;
    } else {
        if args.explain {
            print_trace(&explanation);
        }
        print_summary(&explanation, visitor_id);
    }
    Ok(exit(location))
}

/// The query the worker would see: the visitor's parameters, then the overrides of
/// `--device`, `--os`, `--variant`, `--at` as reserved parameters, the preview token and
/// `__explain=1`. Anything the worker would refuse is a usage error here.
fn query_string(args: &PreviewArgs, token: &str) -> Result<String, CliError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for raw in &args.query {
        let (name, value) = raw.split_once('=').unwrap_or((raw.as_str(), ""));
        if name.starts_with("__") {
            return Err(CliError::Usage(format!(
                "--query {raw:?}: parameters starting with __ are reserved (never forwarded); \
                 use --country, --device, --at, --variant ... instead"
            )));
        }
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let flags = [
        ("__device", &args.device, "--device"),
        ("__os", &args.os, "--os"),
        ("__variant", &args.variant, "--variant"),
        ("__at", &args.at, "--at"),
    ];
    for (name, value, _) in &flags {
        if let Some(value) = value {
            pairs.push(((*name).to_owned(), value.clone()));
        }
    }
    let split = split_query(pairs.iter().map(|(k, v)| (k, v)));
    if let Some((name, _)) = split.rejected.first() {
        let flag = flags.iter().find(|(n, _, _)| n == name).map_or("", |f| f.2);
        return Err(match flag {
            "--device" => CliError::Usage(
                "--device is one of desktop, mobile, tablet, crawler, other".to_owned(),
            ),
            "--at" => parse_at(args.at.as_deref())
                .err()
                .unwrap_or_else(|| CliError::Usage("--at is an RFC 3339 time".to_owned())),
            _ => CliError::Usage(format!(
                "{flag} takes letters, digits, '-', '_' or '.' (at most 64)"
            )),
        });
    }
    if split.dropped > 0 {
        eprintln!(
            "note: {} query parameter(s) over the forwarding limits are dropped, as the worker does",
            split.dropped
        );
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(&pairs);
    query.append_pair("__preview", token);
    query.append_pair("__explain", "1");
    Ok(query.finish())
}

/// The visitor's geography as `request.cf` would give it.
fn geo(args: &PreviewArgs) -> Result<GeoFacts, CliError> {
    let region_country = args
        .region
        .as_deref()
        .and_then(|r| r.split_once('-'))
        .map(|(cc, _)| cc);
    let country = match args.country.as_deref().or(region_country) {
        Some(raw) => Some(normalise_country(raw).ok_or_else(|| {
            CliError::Usage(format!(
                "--country {raw:?} is not an ISO 3166-1 alpha-2 code such as IN"
            ))
        })?),
        None => None,
    };
    let geo = GeoFacts::from_source(
        country.as_deref(),
        None,
        args.region.as_deref(),
        args.city.as_deref(),
        args.asn,
    );
    if args.region.is_some() && geo.region.is_none() {
        return Err(CliError::Usage(format!(
            "--region {:?} is not a subdivision code of {} (write MH or IN-MH, with --country)",
            args.region.as_deref().unwrap_or_default(),
            country.as_deref().unwrap_or("the --country")
        )));
    }
    if geo.city.is_some() && geo.country.is_none() {
        eprintln!("note: --city is ignored without --country (the worker never places a city without its country)");
    }
    Ok(geo)
}

/// The device: classified from `--user-agent` (and client hints) with the worker's
/// classifier, the browser replaced by `--browser`.
fn device(args: &PreviewArgs) -> DeviceFacts {
    let mut device = match &args.user_agent {
        Some(ua) => classify(DeviceHeaders {
            user_agent: Some(ua),
            ch_mobile: args.ch_mobile.as_deref(),
            ch_platform: args.ch_platform.as_deref(),
        }),
        None => DeviceFacts::default(),
    };
    if let Some(browser) = &args.browser {
        device.browser = Some(browser.trim().to_ascii_lowercase());
    }
    device
}

/// Facts given as options are reported with the source `override`, as the worker
/// reports its preview overrides.
fn relabel(args: &PreviewArgs, explanation: &mut Explanation) {
    let given = [
        ("country", args.country.is_some() || args.region.is_some()),
        ("region", args.region.is_some()),
        ("city", args.city.is_some()),
        ("asn", args.asn.is_some()),
        ("browser", args.browser.is_some()),
    ];
    for (name, flag) in given {
        if let Some(fact) = explanation.facts.get_mut(name) {
            if flag && fact.value.is_some() {
                fact.source = FactSource::Override;
            }
        }
    }
}

fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Rule => "rule",
        Outcome::EntryDefault => "the entry's default destination",
        Outcome::HandleFallback => "the handle's fallback page (the entry default is not routable)",
        Outcome::SafePage => "the worker's safe page: nothing routable",
        Outcome::UnknownEntry => "unknown entry (404)",
    }
}

/// Why a campaign assigned no variant, in words.
pub(crate) fn no_variant_words(why: &NoVariant) -> String {
    match why {
        NoVariant::Inactive { status } => format!("the campaign is {status}"),
        NoVariant::NotStarted => "the campaign has not started yet".to_owned(),
        NoVariant::Crawler => "crawlers never get a variant".to_owned(),
        NoVariant::VariantUnroutable { variant, reason } => {
            format!("variant {variant} is not routable: {reason}")
        }
    }
}

fn print_summary(e: &Explanation, visitor_id: &str) {
    let fact = |name: &str| {
        e.facts
            .get(name)
            .and_then(|f| f.value.clone())
            .unwrap_or_else(|| "-".to_owned())
    };
    say!("{}/{}", e.handle, e.entry);
    say!(
        "  visitor   country {}, region {}, device {}, os {}, browser {}, language {}",
        fact("country"),
        fact("region"),
        fact("device"),
        fact("os"),
        fact("browser"),
        fact("language")
    );
    say!("  at        {} (visitor id {visitor_id})", fact("time"));
    match (&e.rule, e.outcome) {
        (Some(rule), Outcome::Rule) => say!("  outcome   rule {rule}"),
        (Some(rule), outcome) => say!(
            "  outcome   {} (rule {rule} matched)",
            outcome_words(outcome)
        ),
        (None, outcome) => say!("  outcome   {}", outcome_words(outcome)),
    }
    if let Some(c) = &e.campaign {
        let detail = match (&c.variant, &c.no_variant) {
            (Some(v), _) if c.forced => format!("variant {v} (forced)"),
            (Some(v), _) => format!("variant {v} (bucket {:.4})", c.bucket.unwrap_or_default()),
            (None, Some(why)) => format!("no variant: {}", no_variant_words(why)),
            (None, None) => "no variant".to_owned(),
        };
        say!("  campaign  {} ({}): {detail}", c.id, c.status);
    }
    if let Some(template) = &e.template {
        say!("  template  {template}");
    }
    match &e.location {
        Some(location) => say!("  location  {location}"),
        None => say!("  location  none"),
    }
}

fn print_trace(e: &Explanation) {
    say!("facts");
    let order = [
        "country",
        "continent",
        "region",
        "city",
        "eu",
        "asn",
        "device",
        "os",
        "browser",
        "language",
        "time",
    ];
    let named = order.iter().filter_map(|n| e.facts.get(n).map(|f| (n, f)));
    for (name, fact) in named {
        let value = fact.value.as_deref().unwrap_or("-");
        let source = serde_json::to_value(fact.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        say!("  {name:<10} {value:<28} {source}");
    }
    say!("rules of {}, in evaluation order", e.entry);
    let width = e.rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in &e.rules {
        say!(
            "  {:>5}  {:<width$}  {:<11}  {}",
            r.priority,
            r.id,
            r.result,
            r.reason
        );
    }
    say!();
}
