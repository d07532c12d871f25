//! Per-isolate settings read once from the Worker's vars and secrets.
//!
//! | name | meaning | default |
//! |---|---|---|
//! | `SNAPSHOT_TTL_SECONDS` | the oldest a handle's snapshot served from the isolate may be; from half of it on, visits start a re-read in the background (`visit::cache`); `0`: every visit reads KV first (tests) | 30 |
//! | `GEO_ORDER` | geo source order, e.g. `cf,mmdb` (production) or `mmdb,cf` (local dev) | `cf,mmdb` |
//! | `TRUST_FORWARDED_IP` | `true` to take the client IP from `X-Forwarded-For` (local dev and tests only) | false |
//! | `TOKEN_SECRET` (secret) | signs preview, ctx and site tokens | none: no preview, no ctx |
//! | `CTX_TTL_SECONDS` | lifetime of ctx tokens handed to destinations | 604800 (7 days) |
//! | `SAFE_FALLBACK_URL` | where visitors go when no snapshot can be read at all (https) | none: the safe page |
//! | `JWT_SECRET` (secret) | verifies HS256 JWTs of the management API (at most 24 h between `iat` and `exp`) | none: PATs only |
//! | `JWT_AUDIENCE` | when set, a JWT must name it in `aud` | none |
//! | `API_MAX_BODY_BYTES` | request body limit of the API (413 above) | 65536 |
//! | `API_READS_PER_MINUTE` | reads per caller and route per minute (429 above) | 300 |
//! | `API_WRITES_PER_MINUTE` | writes per caller and route per minute (429 above) | 60 |
//! | `DAILY_WRITE_LIMIT` | writes per handle per UTC day (429 above) | 1000 |
//! | `API_PUBLIC_PER_MINUTE` | requests per client address and public route per minute (conversions, reports, public pages) | 600 |
//! | `API_AUTH_FAILURES_PER_MINUTE` | failed credentials per client address per minute before 429 | 120 |
//! | `EXPOSE_COUNTERS` | `true` adds `X-Kv-Reads` (KV reads during the request) to visitor responses; benchmarks only | false |
//! | `FAULTS` | fault injection for tests (see `faults.rs`); never set in production | none |
//! | `DOH_RESOLVER_URL` | DNS-over-HTTPS JSON resolver for domain verification (https, or http on loopback for tests; anything else is replaced by the default, and logged) | `https://cloudflare-dns.com/dns-query` |
//! | `REVERIFY_INTERVAL_SECONDS` | a verified domain's TXT proof is re-checked by the Cron Trigger once it was last checked this long ago | 21600 (6 h) |
//! | `EXPOSURE_DEDUPE_SECONDS` | how long the exposure consumer remembers visit ids to recognise a redelivered or replayed message: at least how late one can come (the queue's own retries end within minutes; a dead-letter replay as late as the dead-letter queue keeps messages). Each id costs about 100 bytes of D1 for that long (README, "Scale") | 345600 (4 days, the default retention) |

use std::cell::RefCell;
use std::rc::Rc;

use url::Url;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::api::body::DEFAULT_MAX_BODY_BYTES;
use crate::api::context::ApiSettings;
use crate::api::doh::{self, DEFAULT_RESOLVER};
use crate::engine::geo::GeoSource;
use crate::visit::plan::VisitSettings;

/// Settings of this isolate.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) snapshot_ttl_ms: f64,
    /// What a visit needs: geo order, token secret, ctx lifetime, safe fallback.
    pub(crate) visit: VisitSettings,
    /// What the management API needs: limits and secrets.
    pub(crate) api: ApiSettings,
    pub(crate) trust_forwarded_ip: bool,
    pub(crate) doh_resolver: String,
    pub(crate) reverify_interval_seconds: i64,
    pub(crate) exposure_dedupe_seconds: i64,
    pub(crate) expose_counters: bool,
}

thread_local! {
    static SETTINGS: RefCell<Option<Rc<Settings>>> = const { RefCell::new(None) };
}

/// A variable or secret of `env` as text: `None` when it is not set, not a string (a
/// `[vars]` table or number) or blank. Read directly (`Reflect.get`, then the string if it
/// is one) rather than through `Env::var`, whose type check by constructor name takes
/// four more calls into JavaScript per variable: of twenty, on an isolate's first visit.
fn var(env: &Env, name: &str) -> Option<String> {
    let value = worker::js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    let text = value.as_string()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The configured DoH resolver if [`doh::acceptable_resolver`], else the default (logged).
fn https_resolver(configured: Option<String>) -> String {
    match configured {
        Some(url) if doh::acceptable_resolver(&url) => url,
        Some(url) => {
            worker::console_error!(
                "DOH_RESOLVER_URL {url:?} is neither https nor loopback; using {DEFAULT_RESOLVER}"
            );
            DEFAULT_RESOLVER.to_owned()
        }
        None => DEFAULT_RESOLVER.to_owned(),
    }
}

impl Settings {
    /// Settings from a lookup of the variables by name (`env`'s, or the start-up
    /// rehearsal's own: one body of code for both, so the rehearsal runs what a first
    /// visit would).
    pub(crate) fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Settings {
        let number = |name: &str, default: i64| {
            var(name)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .unwrap_or(default)
        };
        let token_secret = var("TOKEN_SECRET")
            .filter(|s| s.len() >= 16)
            .map(String::into_bytes);
        let ctx_ttl_seconds = number("CTX_TTL_SECONDS", 7 * 24 * 3600);
        Settings {
            snapshot_ttl_ms: number("SNAPSHOT_TTL_SECONDS", 30) as f64 * 1000.0,
            visit: VisitSettings {
                geo_order: GeoSource::parse_order(&var("GEO_ORDER").unwrap_or_default()),
                token_secret: token_secret.clone(),
                ctx_ttl_seconds,
                safe_fallback: var("SAFE_FALLBACK_URL")
                    .and_then(|u| Url::parse(&u).ok())
                    .filter(|u| u.scheme() == "https"),
            },
            api: ApiSettings {
                max_body_bytes: number("API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES as i64)
                    as usize,
                reads_per_minute: number("API_READS_PER_MINUTE", 300) as u32,
                writes_per_minute: number("API_WRITES_PER_MINUTE", 60) as u32,
                daily_write_limit: number("DAILY_WRITE_LIMIT", 1000) as u32,
                auth_failures_per_minute: number("API_AUTH_FAILURES_PER_MINUTE", 120) as u32,
                public_per_minute: number("API_PUBLIC_PER_MINUTE", 600) as u32,
                token_secret,
                jwt_secret: var("JWT_SECRET")
                    .filter(|s| s.len() >= 16)
                    .map(String::into_bytes),
                jwt_audience: var("JWT_AUDIENCE"),
                ctx_ttl_seconds,
            },
            trust_forwarded_ip: var("TRUST_FORWARDED_IP").is_some_and(|v| v == "true" || v == "1"),
            expose_counters: var("EXPOSE_COUNTERS").is_some_and(|v| v == "true"),
            doh_resolver: https_resolver(var("DOH_RESOLVER_URL")),
            reverify_interval_seconds: number("REVERIFY_INTERVAL_SECONDS", 6 * 3600),
            exposure_dedupe_seconds: number(
                "EXPOSURE_DEDUPE_SECONDS",
                crate::api::exposures::DEFAULT_DEDUPE_SECONDS,
            ),
        }
    }
}

/// The isolate's settings, read from `env` the first time.
pub(crate) fn get(env: &Env) -> Rc<Settings> {
    if let Some(settings) = SETTINGS.with(|s| s.borrow().clone()) {
        return settings;
    }
    let settings = Rc::new(Settings::from_vars(&|name| var(env, name)));
    super::faults::install(super::faults::Faults::parse(
        &var(env, "FAULTS").unwrap_or_default(),
    ));
    if settings.visit.token_secret.is_none() {
        worker::console_warn!("TOKEN_SECRET is missing or shorter than 16 bytes: previews and ctx tokens are disabled");
    }
    SETTINGS.with(|s| *s.borrow_mut() = Some(settings.clone()));
    settings
}
