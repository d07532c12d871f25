//! What the request says about the visitor, as the plain parts a visit reads: geo from
//! `request.cf` (read only here, through its `Option` getters), the client address, and
//! the headers. Nothing here decides anything.

use std::net::IpAddr;

use worker::{Headers, Request};

use super::settings::Settings;
use crate::engine::geo::GeoFacts;
use crate::visit::headers;

/// A header's value, if present and readable.
pub(crate) fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// Geo facts of `request.cf`, if it has any.
pub(crate) fn cf_geo(req: &Request) -> Option<GeoFacts> {
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

/// The client address (see [`headers::client_ip`]).
pub(crate) fn client_ip(request_headers: &Headers, settings: &Settings) -> Option<IpAddr> {
    headers::client_ip(
        header(request_headers, "CF-Connecting-IP").as_deref(),
        header(request_headers, "X-Forwarded-For").as_deref(),
        settings.trust_forwarded_ip,
    )
}

/// The headers a visit reads, in the order of [`VisitHeaders`].
#[derive(Debug, Default)]
pub(crate) struct VisitHeaders {
    pub(crate) user_agent: Option<String>,
    pub(crate) ch_mobile: Option<String>,
    pub(crate) ch_platform: Option<String>,
    pub(crate) accept_language: Option<String>,
    pub(crate) cookie: Option<String>,
}

/// Reads the visit's headers.
pub(crate) fn visit_headers(request_headers: &Headers) -> VisitHeaders {
    let get = |name| header(request_headers, name);
    VisitHeaders {
        user_agent: get("User-Agent"),
        ch_mobile: get("Sec-CH-UA-Mobile"),
        ch_platform: get("Sec-CH-UA-Platform"),
        accept_language: get("Accept-Language"),
        cookie: get("Cookie"),
    }
}
