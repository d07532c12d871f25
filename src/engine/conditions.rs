//! Rule conditions compiled for matching: values normalised once (countries upper-case,
//! names lower-case, times parsed), so matching never parses.
//!
//! Set semantics: `in` holds when the fact is known and one of the values; `not_in` holds
//! when the fact is unknown or none of the values. `eu: true|false` holds when the
//! visitor's country is known and its membership equals the value. A query condition
//! tests the first value of that visitor parameter. A time window holds when
//! `start <= now < end`, either bound open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::device::DeviceCategory;
use crate::engine::facts::Facts;
use crate::engine::geo::normalise_country;
use crate::engine::lang::{is_language_tag, language_matches};
use crate::model::config::{Conditions, SetTest, TimeWindow};
use crate::model::diag::Diagnostics;

/// A compiled string set test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Set<T> {
    negate: bool,
    values: Vec<T>,
}

impl<T: PartialEq> Set<T> {
    fn holds_with(&self, fact: Option<&T>, eq: impl Fn(&T, &T) -> bool) -> bool {
        let found = fact.is_some_and(|f| self.values.iter().any(|v| eq(f, v)));
        found != self.negate
    }

    fn holds(&self, fact: Option<&T>) -> bool {
        self.holds_with(fact, |a, b| a == b)
    }

    /// Values of a positive (`in`) test.
    pub(crate) fn positive(&self) -> Option<&[T]> {
        (!self.negate).then_some(self.values.as_slice())
    }

    /// Whether the test is `not_in`.
    pub(crate) fn is_negated(&self) -> bool {
        self.negate
    }

    /// The test's values.
    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }
}

impl Set<String> {
    fn holds_str(&self, fact: Option<&str>) -> bool {
        let found = fact.is_some_and(|f| self.values.iter().any(|v| v == f));
        found != self.negate
    }
}

impl<T: std::fmt::Display> Set<T> {
    /// The test in words, e.g. `in [IN, AE]`.
    pub(crate) fn describe(&self) -> String {
        let values: Vec<String> = self.values.iter().map(ToString::to_string).collect();
        format!(
            "{} [{}]",
            if self.negate { "not in" } else { "in" },
            values.join(", ")
        )
    }
}

/// A compiled time window: inclusive start, exclusive end, either open.
pub(crate) type DateWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// CompiledConditions conditions of one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CompiledConditions {
    pub(crate) country: Option<Set<String>>,
    pub(crate) continent: Option<Set<String>>,
    pub(crate) region: Option<Set<String>>,
    pub(crate) city: Option<Set<String>>,
    pub(crate) eu: Option<bool>,
    pub(crate) asn: Option<Set<u32>>,
    pub(crate) device: Option<Set<DeviceCategory>>,
    pub(crate) os: Option<Set<String>>,
    pub(crate) browser: Option<Set<String>>,
    pub(crate) language: Option<Set<String>>,
    pub(crate) query: Vec<(String, Set<String>)>,
    #[serde(with = "crate::engine::edge_time::window")]
    pub(crate) time: Option<DateWindow>,
}

/// Which condition failed, and with what fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The condition's name (`country`, `device`, `query.utm_source`, ...).
    pub condition: String,
    /// What the condition wanted, e.g. `in [IN, AE]`.
    pub expected: String,
    /// The visitor's fact, if known.
    pub actual: Option<String>,
}

fn mismatch(condition: &str, expected: String, actual: Option<String>) -> Mismatch {
    Mismatch {
        condition: condition.to_owned(),
        expected,
        actual,
    }
}

impl CompiledConditions {
    /// Whether the rule targets crawlers explicitly (`device: {in: [crawler, ...]}`).
    pub(crate) fn targets_crawlers(&self) -> bool {
        self.device
            .as_ref()
            .and_then(Set::positive)
            .is_some_and(|v| v.contains(&DeviceCategory::Crawler))
    }

    /// Whether nothing is tested.
    pub(crate) fn is_empty(&self) -> bool {
        *self == CompiledConditions::default()
    }
    /// The first condition that does not hold, in a fixed order (cheapest and most
    /// selective first); `None` when all hold. Allocation-free: this is the hot path.
    pub(crate) fn first_failure(&self, facts: &Facts) -> Option<Cond<'_>> {
        let geo = &facts.geo;
        let fails = |set: &Option<Set<String>>, fact: Option<&String>| {
            set.as_ref().is_some_and(|s| !s.holds(fact))
        };
        if fails(&self.country, geo.country.as_ref()) {
            return Some(Cond::Country);
        }
        if self
            .device
            .as_ref()
            .is_some_and(|s| !s.holds(Some(&facts.device)))
        {
            return Some(Cond::Device);
        }
        if fails(&self.continent, geo.continent.as_ref()) {
            return Some(Cond::Continent);
        }
        if fails(&self.region, geo.region.as_ref()) {
            return Some(Cond::Region);
        }
        if self
            .city
            .as_ref()
            .is_some_and(|s| !s.holds_with(geo.city.as_ref(), |a, b| a.eq_ignore_ascii_case(b)))
        {
            return Some(Cond::City);
        }
        if self.eu.is_some_and(|want| geo.eu != Some(want)) {
            return Some(Cond::Eu);
        }
        if self
            .asn
            .as_ref()
            .is_some_and(|s| !s.holds(geo.asn.as_ref()))
        {
            return Some(Cond::Asn);
        }
        if fails(&self.os, facts.os.as_ref()) {
            return Some(Cond::Os);
        }
        if fails(&self.browser, facts.browser.as_ref()) {
            return Some(Cond::Browser);
        }
        if self.language.as_ref().is_some_and(|s| {
            !s.holds_with(facts.language.as_ref(), |v, value| {
                language_matches(v, value)
            })
        }) {
            return Some(Cond::Language);
        }
        for query @ (name, set) in &self.query {
            if !set.holds_str(facts.query_value(name)) {
                return Some(Cond::Query(query));
            }
        }
        if let Some((start, end)) = &self.time {
            let inside = start.is_none_or(|s| facts.now >= s) && end.is_none_or(|e| facts.now < e);
            if !inside {
                return Some(Cond::Time);
            }
        }
        None
    }

    /// Whether every condition holds.
    pub(crate) fn holds(&self, facts: &Facts) -> bool {
        self.first_failure(facts).is_none()
    }

    /// Checks every condition and, for the trace, describes the first that fails.
    pub(crate) fn check(&self, facts: &Facts) -> Result<(), Mismatch> {
        match self.first_failure(facts) {
            None => Ok(()),
            Some(cond) => Err(self.describe_failure(cond, facts)),
        }
    }

    fn describe_failure(&self, cond: Cond<'_>, facts: &Facts) -> Mismatch {
        let geo = &facts.geo;
        let text = |set: &Option<Set<String>>| set.as_ref().map(Set::describe).unwrap_or_default();
        match cond {
            Cond::Country => mismatch("country", text(&self.country), geo.country.clone()),
            Cond::Device => mismatch(
                "device",
                self.device.as_ref().map(Set::describe).unwrap_or_default(),
                Some(facts.device.to_string()),
            ),
            Cond::Continent => mismatch("continent", text(&self.continent), geo.continent.clone()),
            Cond::Region => mismatch("region", text(&self.region), geo.region.clone()),
            Cond::City => mismatch("city", text(&self.city), geo.city.clone()),
            Cond::Eu => mismatch(
                "eu",
                self.eu.map(|e| e.to_string()).unwrap_or_default(),
                geo.eu.map(|e| e.to_string()),
            ),
            Cond::Asn => mismatch(
                "asn",
                self.asn.as_ref().map(Set::describe).unwrap_or_default(),
                geo.asn.map(|a| a.to_string()),
            ),
            Cond::Os => mismatch("os", text(&self.os), facts.os.clone()),
            Cond::Browser => mismatch("browser", text(&self.browser), facts.browser.clone()),
            Cond::Language => mismatch("language", text(&self.language), facts.language.clone()),
            Cond::Query((name, set)) => mismatch(
                &format!("query.{name}"),
                set.describe(),
                facts.query_value(name).map(str::to_owned),
            ),
            Cond::Time => {
                let (start, end) = self.time.unwrap_or_default();
                let bound =
                    |t: Option<DateTime<Utc>>| t.map_or("any time".into(), |t| t.to_rfc3339());
                mismatch(
                    "time",
                    format!("from {} until {}", bound(start), bound(end)),
                    Some(facts.now.to_rfc3339()),
                )
            }
        }
    }
}

/// Which condition failed (cheap to return; described only for the trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond<'a> {
    Country,
    Device,
    Continent,
    Region,
    City,
    Eu,
    Asn,
    Os,
    Browser,
    Language,
    /// The failing query test: its parameter name and set.
    Query(&'a (String, Set<String>)),
    Time,
}

/// Compiles conditions, reporting every problem under `path`.
pub(crate) fn compile(doc: &Conditions, path: &str, diags: &mut Diagnostics) -> CompiledConditions {
    let at = |field: &'static str| At(path, field);
    CompiledConditions {
        country: compile_set(doc.country.as_ref(), at("country"), diags, |v| {
            normalise_country(v).ok_or("not an ISO 3166-1 alpha-2 country code such as IN")
        }),
        continent: compile_set(doc.continent.as_ref(), at("continent"), diags, |v| {
            let code = v.trim().to_ascii_uppercase();
            const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];
            CONTINENTS
                .contains(&code.as_str())
                .then_some(code)
                .ok_or("not a continent code (AF AN AS EU NA OC SA)")
        }),
        region: compile_set(doc.region.as_ref(), at("region"), diags, |v| {
            let code = v.trim().to_ascii_uppercase();
            let valid = code.split_once('-').is_some_and(|(cc, sub)| {
                normalise_country(cc).is_some()
                    && (1..=3).contains(&sub.len())
                    && sub.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            valid
                .then_some(code)
                .ok_or("not an ISO 3166-2 code such as IN-MH")
        }),
        city: compile_set(doc.city.as_ref(), at("city"), diags, |v| {
            let city = v.trim();
            (!city.is_empty() && city.len() <= 100)
                .then(|| city.to_owned())
                .ok_or("a city name is 1 to 100 characters")
        }),
        eu: doc.eu,
        asn: compile_set(doc.asn.as_ref(), at("asn"), diags, |v| {
            (*v > 0).then_some(*v).ok_or("ASN 0 is reserved")
        }),
        device: compile_set(doc.device.as_ref(), at("device"), diags, |v| {
            DeviceCategory::parse(v)
                .ok_or("not a device category (desktop, mobile, tablet, crawler, other)")
        }),
        os: compile_set(doc.os.as_ref(), at("os"), diags, |v| name_value(v)),
        browser: compile_set(doc.browser.as_ref(), at("browser"), diags, |v| {
            name_value(v)
        }),
        language: compile_set(doc.language.as_ref(), at("language"), diags, |v| {
            is_language_tag(v.trim())
                .then(|| v.trim().to_ascii_lowercase())
                .ok_or("not a language tag such as hi or en-GB")
        }),
        query: doc
            .query
            .iter()
            .filter_map(|(name, test)| {
                let path = format!("{path}.query.{name}");
                if name.is_empty() || name.starts_with("__") {
                    diags.error(
                        "invalid_query_name",
                        &path,
                        "query parameter names are non-empty and may not start with __ (reserved)",
                    );
                    return None;
                }
                let set = compile_set(Some(test), &path, diags, |v| Ok::<_, &str>(v.clone()))?;
                Some((name.clone(), set))
            })
            .collect(),
        time: doc
            .time
            .as_ref()
            .and_then(|w| compile_window(w, &at("time").to_string(), diags)),
    }
}

fn name_value(v: &str) -> Result<String, &'static str> {
    let name = v.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(name)
        .ok_or("names are 1 to 40 letters, digits, '-', '_' or '.'")
}

/// A JSON path built only when a diagnostic needs it (compiling a large snapshot on
/// the edge must not format a path per field).
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a>(&'a str, &'a str);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn compile_set<T, U>(
    test: Option<&SetTest<T>>,
    path: impl std::fmt::Display,
    diags: &mut Diagnostics,
    value: impl Fn(&T) -> Result<U, &'static str>,
) -> Option<Set<U>> {
    let test = test?;
    let (negate, key, raw) = match (&test.any_of, &test.not_in) {
        (Some(values), None) => (false, "in", values),
        (None, Some(values)) => (true, "not_in", values),
        _ => {
            diags.error(
                "invalid_set_test",
                path.to_string(),
                "a set test has exactly one of `in` and `not_in`",
            );
            return None;
        }
    };
    if raw.is_empty() {
        let effect = if negate {
            "always holds"
        } else {
            "can never hold: the rule never matches"
        };
        diags.warning(
            "empty_condition_set",
            format!("{path}.{key}"),
            format!("empty set: this condition {effect}"),
        );
    }
    let mut values = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        match value(v) {
            Ok(v) => values.push(v),
            Err(why) => diags.error(
                invalid_code(&path.to_string()),
                format!("{path}.{key}[{i}]"),
                why,
            ),
        }
    }
    Some(Set { negate, values })
}

fn invalid_code(path: &str) -> &'static str {
    let field = path.rsplit('.').next().unwrap_or_default();
    match field {
        "country" => "invalid_country",
        "continent" => "invalid_continent",
        "region" => "invalid_region",
        "city" => "invalid_city",
        "asn" => "invalid_asn",
        "device" => "invalid_device",
        "os" => "invalid_os",
        "browser" => "invalid_browser",
        "language" => "invalid_language",
        _ => "invalid_value",
    }
}

fn compile_window(w: &TimeWindow, path: &str, diags: &mut Diagnostics) -> Option<DateWindow> {
    let start = parse_time(w.start.as_deref(), &format!("{path}.start"), diags);
    let end = parse_time(w.end.as_deref(), &format!("{path}.end"), diags);
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            diags.error(
                "empty_time_window",
                path,
                "the window's start must be before its end",
            );
        }
    }
    Some((start, end))
}

/// Parses an optional RFC 3339 time, reporting a bad one at `path`.
pub(crate) fn parse_time(
    raw: Option<&str>,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<DateTime<Utc>> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            diags.error(
                "invalid_time",
                path,
                format!("{raw:?} is not an RFC 3339 time such as 2026-11-01T00:00:00+05:30"),
            );
            None
        }
    }
}
