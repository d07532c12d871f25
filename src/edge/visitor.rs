//! What the request says about the visitor: geo from `request.cf` and the MaxMind DB,
//! device headers, the visitor-id cookie. `request.cf` is read only here, through its
//! `Option` getters.

use std::net::IpAddr;

use worker::kv::KvStore;
use worker::{Headers, Request};

use super::settings::Settings;
use super::store;
use crate::engine::geo::{GeoFacts, GeoSource};
use crate::visit::headers as client;

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
        let forwarded =
            header(headers, "X-Forwarded-For").and_then(|v| client::parse_forwarded_for(&v));
        if forwarded.is_some() {
            return forwarded;
        }
    }
    header(headers, "CF-Connecting-IP").and_then(|v| client::parse_connecting_ip(&v))
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

/// The visitor id from the cookie, if it is well formed.
pub(crate) fn cookie_visitor_id(headers: &Headers) -> Option<String> {
    header(headers, "Cookie").and_then(|c| client::visitor_id_from_cookies(&c).map(str::to_owned))
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
