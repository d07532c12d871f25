//! Visitor facts: everything rules can test, gathered from raw inputs (geo sources in
//! their configured order, device headers, `Accept-Language`, the query, the clock and
//! preview overrides), each with the source it came from.
//!
//! Geo merging is field by field in source order, with one exception: region and city
//! are only taken from the source that supplied the country, so a visitor is never placed
//! in a region of another country. An overridden country clears the looked-up region,
//! city and ASN, and derives continent and EU membership anew.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::device::{DeviceCategory, DeviceFacts, DeviceSource};
use crate::engine::geo::{continent_of, is_eu_member, GeoFacts, GeoSource};
use crate::engine::lang::preferred_language;

/// Where a fact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactSource {
    /// Cloudflare's `request.cf`.
    Cf,
    /// The MaxMind DB lookup of the client IP.
    Mmdb,
    /// Derived from another fact (continent and EU from the country).
    Derived,
    /// The User-Agent string.
    UserAgent,
    /// User-Agent Client Hints.
    ClientHints,
    /// A request header (`Accept-Language`).
    Header,
    /// A preview override.
    Override,
    /// The worker's clock.
    Clock,
    /// Nobody knew.
    Unknown,
}

impl From<GeoSource> for FactSource {
    fn from(source: GeoSource) -> Self {
        match source {
            GeoSource::Cf => Self::Cf,
            GeoSource::Mmdb => Self::Mmdb,
        }
    }
}

/// The facts one decision is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Geography.
    pub geo: GeoFacts,
    /// Device category.
    pub device: DeviceCategory,
    /// Normalised OS.
    pub os: Option<String>,
    /// Normalised browser.
    pub browser: Option<String>,
    /// Preferred language tag, lower-case.
    pub language: Option<String>,
    /// Visitor query parameters (reserved ones removed).
    pub query: Vec<(String, String)>,
    /// The time to decide at.
    pub now: DateTime<Utc>,
}

impl Facts {
    /// Facts with nothing known but the time (tests, tools, matrix cells start here).
    pub fn at(now: DateTime<Utc>) -> Self {
        Facts {
            geo: GeoFacts::default(),
            device: DeviceCategory::Other,
            os: None,
            browser: None,
            language: None,
            query: Vec::new(),
            now,
        }
    }

    /// The value of a visitor query parameter (first occurrence).
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Overrides a preview may set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overrides {
    /// Country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Region: `SUB` or `CC-SUB`, made `CC-SUB` against the (overridden) country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Device category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceCategory>,
    /// OS name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Variant key to force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The clock to decide with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// The source of each fact, for the explain trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactSources {
    /// Country.
    pub country: FactSource,
    /// Continent.
    pub continent: FactSource,
    /// Region.
    pub region: FactSource,
    /// City.
    pub city: FactSource,
    /// EU membership.
    pub eu: FactSource,
    /// ASN.
    pub asn: FactSource,
    /// Device category.
    pub device: FactSource,
    /// OS.
    pub os: FactSource,
    /// Browser.
    pub browser: FactSource,
    /// Language.
    pub language: FactSource,
    /// Time.
    pub time: FactSource,
}

impl FactSources {
    /// Every fact unknown (nothing looked up yet).
    pub fn unknown() -> Self {
        let unknown = FactSource::Unknown;
        FactSources {
            country: unknown,
            continent: unknown,
            region: unknown,
            city: unknown,
            eu: unknown,
            asn: unknown,
            device: unknown,
            os: unknown,
            browser: unknown,
            language: unknown,
            time: unknown,
        }
    }
}

/// Raw inputs for [`gather`].
#[derive(Debug, Clone, Default)]
pub struct FactInputs<'a> {
    /// What each geo source said, in the configured order.
    pub geo: Vec<(GeoSource, GeoFacts)>,
    /// Device facts, classified by the caller (`crate::visit::user_agent::classify`).
    pub device: DeviceFacts,
    /// `Accept-Language`.
    pub accept_language: Option<&'a str>,
    /// Forwardable visitor query.
    pub query: Vec<(String, String)>,
    /// The worker's clock.
    pub now: DateTime<Utc>,
    /// Preview overrides, only when a valid preview token came with them.
    pub overrides: Option<&'a Overrides>,
}

/// Gathers facts and their sources. Never fails: what nobody knows stays unknown.
pub fn gather(inputs: FactInputs<'_>) -> (Facts, FactSources) {
    let (geo, mut sources) = merge_geo(&inputs.geo);
    let device = inputs.device;
    let device_source = match device.source {
        DeviceSource::UserAgent => FactSource::UserAgent,
        DeviceSource::ClientHints => FactSource::ClientHints,
        DeviceSource::Missing => FactSource::Unknown,
    };
    let language = inputs.accept_language.and_then(preferred_language);
    let mut facts = Facts {
        geo,
        device: device.category,
        os: device.os,
        browser: device.browser,
        language,
        query: inputs.query,
        now: inputs.now,
    };
    let known =
        |present: bool, source: FactSource| if present { source } else { FactSource::Unknown };
    sources.device = device_source;
    sources.os = known(facts.os.is_some(), device_source);
    sources.browser = known(facts.browser.is_some(), device_source);
    sources.language = known(facts.language.is_some(), FactSource::Header);
    if let Some(overrides) = inputs.overrides {
        apply_overrides(&mut facts, &mut sources, overrides);
    }
    (facts, sources)
}

fn merge_geo(order: &[(GeoSource, GeoFacts)]) -> (GeoFacts, FactSources) {
    let mut sources = FactSources {
        time: FactSource::Clock,
        ..FactSources::unknown()
    };
    let mut geo = GeoFacts::default();
    let country_source = order.iter().find(|(_, g)| g.country.is_some());
    if let Some((source, found)) = country_source {
        geo.country = found.country.clone();
        geo.region = found.region.clone();
        geo.city = found.city.clone();
        sources.country = (*source).into();
        sources.region = if geo.region.is_some() {
            (*source).into()
        } else {
            FactSource::Unknown
        };
        sources.city = if geo.city.is_some() {
            (*source).into()
        } else {
            FactSource::Unknown
        };
    }
    if let Some((source, found)) = order.iter().find(|(_, g)| g.asn.is_some()) {
        geo.asn = found.asn;
        sources.asn = (*source).into();
    }
    if let Some((source, found)) = country_source {
        geo.continent = found.continent.clone();
        geo.eu = found.eu;
        sources.continent = if geo.continent.is_some() {
            (*source).into()
        } else {
            FactSource::Unknown
        };
        sources.eu = if geo.eu.is_some() {
            (*source).into()
        } else {
            FactSource::Unknown
        };
    }
    if let Some(country) = geo.country.clone() {
        if geo.continent.is_none() {
            geo.continent = continent_of(&country).map(str::to_owned);
            sources.continent = if geo.continent.is_some() {
                FactSource::Derived
            } else {
                FactSource::Unknown
            };
        }
        if geo.eu.is_none() {
            geo.eu = Some(is_eu_member(&country));
            sources.eu = FactSource::Derived;
        }
    }
    (geo, sources)
}

fn apply_overrides(facts: &mut Facts, sources: &mut FactSources, o: &Overrides) {
    if let Some(country) = &o.country {
        facts.geo = GeoFacts {
            country: Some(country.clone()),
            continent: continent_of(country).map(str::to_owned),
            region: None,
            city: None,
            eu: Some(is_eu_member(country)),
            asn: None,
        };
        sources.country = FactSource::Override;
        sources.continent = if facts.geo.continent.is_some() {
            FactSource::Derived
        } else {
            FactSource::Unknown
        };
        sources.eu = FactSource::Derived;
        sources.region = FactSource::Unknown;
        sources.city = FactSource::Unknown;
        sources.asn = FactSource::Unknown;
    }
    if let Some(region) = &o.region {
        let region_country = region.split('-').next().unwrap_or_default();
        if facts.geo.country.as_deref() == Some(region_country) {
            facts.geo.region = Some(region.clone());
            sources.region = FactSource::Override;
        }
    }
    if let Some(device) = o.device {
        facts.device = device;
        sources.device = FactSource::Override;
    }
    if let Some(os) = &o.os {
        facts.os = Some(os.clone());
        sources.os = FactSource::Override;
    }
    if let Some(lang) = &o.lang {
        facts.language = Some(lang.clone());
        sources.language = FactSource::Override;
    }
    if let Some(at) = o.at {
        facts.now = at;
        sources.time = FactSource::Override;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-01T00:00:00Z".parse().unwrap()
    }

    fn geo(country: &str, region: Option<&str>, asn: Option<u32>) -> GeoFacts {
        GeoFacts::normalised(Some(country), None, region, None, asn)
    }

    #[test]
    fn first_source_with_a_country_wins_with_its_region() {
        let inputs = FactInputs {
            geo: vec![
                (GeoSource::Mmdb, GeoFacts::default()),
                (GeoSource::Cf, geo("IN", Some("MH"), None)),
            ],
            now: now(),
            ..Default::default()
        };
        let (facts, sources) = gather(inputs);
        assert_eq!(facts.geo.country.as_deref(), Some("IN"));
        assert_eq!(facts.geo.region.as_deref(), Some("IN-MH"));
        assert_eq!(facts.geo.continent.as_deref(), Some("AS"));
        assert_eq!(
            (sources.country, sources.region),
            (FactSource::Cf, FactSource::Cf)
        );
    }

    #[test]
    fn region_is_never_taken_from_another_country() {
        let inputs = FactInputs {
            geo: vec![
                (
                    GeoSource::Mmdb,
                    GeoFacts {
                        country: Some("IN".into()),
                        ..Default::default()
                    },
                ),
                (GeoSource::Cf, geo("US", Some("CA"), Some(13335))),
            ],
            now: now(),
            ..Default::default()
        };
        let (facts, sources) = gather(inputs);
        assert_eq!(facts.geo.country.as_deref(), Some("IN"));
        assert_eq!(facts.geo.region, None);
        assert_eq!(
            facts.geo.asn,
            Some(13335),
            "ASN does not depend on the country source"
        );
        assert_eq!(
            (sources.continent, sources.eu, sources.asn),
            (FactSource::Derived, FactSource::Derived, FactSource::Cf)
        );
    }

    #[test]
    fn overrides_replace_geo_and_device() {
        let overrides = Overrides {
            country: Some("AE".into()),
            region: Some("AE-DU".into()),
            device: Some(DeviceCategory::Tablet),
            lang: Some("ar".into()),
            at: Some("2026-12-24T10:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        let inputs = FactInputs {
            geo: vec![(GeoSource::Mmdb, geo("IN", Some("MH"), Some(55836)))],
            accept_language: Some("hi-IN"),
            now: now(),
            overrides: Some(&overrides),
            ..Default::default()
        };
        let (facts, sources) = gather(inputs);
        assert_eq!(facts.geo.country.as_deref(), Some("AE"));
        assert_eq!(facts.geo.region.as_deref(), Some("AE-DU"));
        assert_eq!(facts.geo.asn, None);
        assert_eq!(facts.geo.eu, Some(false));
        assert_eq!(facts.device, DeviceCategory::Tablet);
        assert_eq!(facts.language.as_deref(), Some("ar"));
        assert_eq!(facts.now.to_rfc3339(), "2026-12-24T10:00:00+00:00");
        assert_eq!(
            (
                sources.country,
                sources.device,
                sources.language,
                sources.time
            ),
            (
                FactSource::Override,
                FactSource::Override,
                FactSource::Override,
                FactSource::Override
            )
        );
    }

    #[test]
    fn nothing_known() {
        let (facts, sources) = gather(FactInputs {
            now: now(),
            ..Default::default()
        });
        assert_eq!(facts, Facts::at(now()));
        assert_eq!(sources.country, FactSource::Unknown);
        assert_eq!(sources.time, FactSource::Clock);
    }
}
