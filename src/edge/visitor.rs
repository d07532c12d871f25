//! What the request says about the visitor: geo from `request.cf` and the MaxMind DB,
//! device headers, the visitor-id cookie. `request.cf` is read only here, through its
//! `Option` getters.

use std::net::IpAddr;

use worker::kv::KvStore;
use worker::{Headers, Request};

use super::settings::Settings;
use super::store;
use crate::geo::{GeoFacts, GeoSource};

/// The visitor-id cookie.
pub(crate) const COOKIE: &str = "gh_vid";
/// Its lifetime: one year.
pub(crate) const COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;

fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// Geo facts of `request.cf`, if it has any.
fn cf_geo(req: &Request) -> Option<GeoFacts> {
    let cf = req.cf()?;
    let facts = GeoFacts::from_source(
        cf.country().as_deref(),
        cf.continent().as_deref(),
        cf.region_code().as_deref(),
        cf.city().as_deref(),
        cf.asn(),
    );
    (!facts.is_empty()).then_some(facts)
}

/// The client IP: `CF-Connecting-IP`, or, only where the settings trust it (local dev and
/// tests), the first address of `X-Forwarded-For`.
pub(crate) fn client_ip(headers: &Headers, settings: &Settings) -> Option<IpAddr> {
    if settings.trust_forwarded_ip {
        let forwarded = header(headers, "X-Forwarded-For").and_then(|v| parse_forwarded(&v));
        if forwarded.is_some() {
            return forwarded;
        }
    }
    header(headers, "CF-Connecting-IP").and_then(|v| v.trim().parse().ok())
}

/// The first address of an `X-Forwarded-For` value (bounded; junk is no address).
pub(crate) fn parse_forwarded(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?.trim();
    if first.len() > 64 {
        return None;
    }
    first
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// What each configured geo source says, in order. The MaxMind DB is only read (and
/// looked in) when a source before it, or no source at all, left the country unknown.
pub(crate) async fn geo_sources(
    req: &Request,
    kv: &KvStore,
    settings: &Settings,
    now_ms: f64,
) -> Vec<(GeoSource, GeoFacts)> {
    let mut found = Vec::with_capacity(settings.geo_order.len());
    for source in &settings.geo_order {
        if found
            .iter()
            .any(|(_, g): &(GeoSource, GeoFacts)| g.country.is_some())
        {
            break;
        }
        let facts = match source {
            GeoSource::Cf => cf_geo(req),
            GeoSource::Mmdb => match client_ip(req.headers(), settings) {
                Some(ip) => store::geodb(kv, now_ms).await.and_then(|db| db.lookup(ip)),
                None => None,
            },
        };
        if let Some(facts) = facts {
            found.push((*source, facts));
        }
    }
    found
}

/// The visitor id from the cookie, if it is well formed (32 lower-case hex digits).
pub(crate) fn cookie_visitor_id(headers: &Headers) -> Option<String> {
    let cookies = header(headers, "Cookie")?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| is_visitor_id(v))
}

/// Whether a string is a visitor id as the router mints them.
pub(crate) fn is_visitor_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `Set-Cookie` value for a new visitor id.
pub(crate) fn set_cookie(visitor_id: &str) -> String {
    format!(
        "{COOKIE}={visitor_id}; Max-Age={COOKIE_MAX_AGE}; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
}

/// `User-Agent`, `Sec-CH-UA-Mobile`, `Sec-CH-UA-Platform`, `Accept-Language`.
pub(crate) fn device_headers(headers: &Headers) -> [Option<String>; 4] {
    [
        "User-Agent",
        "Sec-CH-UA-Mobile",
        "Sec-CH-UA-Platform",
        "Accept-Language",
    ]
    .map(|name| header(headers, name))
}
