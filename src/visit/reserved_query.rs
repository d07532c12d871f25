//! Reserved query parameters: the preview overrides and what is forwarded.
//!
//! Every parameter whose name starts with `__` is reserved: it is never forwarded to a
//! destination, whether or not it means anything. The known ones are `__preview` (the
//! token), `__country`, `__region`, `__device`, `__os`, `__lang`, `__variant`, `__at`
//! (RFC 3339) and `__explain`. Overrides only take effect with a valid preview token;
//! that check belongs to the caller, which has the secret and the clock.
//!
//! Visitor parameters are forwarded within limits (at most [`MAX_FORWARDED_PARAMS`]
//! parameters and [`MAX_FORWARDED_BYTES`] bytes of names and values); the rest is dropped
//! so that a hostile query cannot make the Location header unbounded.

use chrono::{DateTime, Utc};

use crate::engine::device::DeviceCategory;
use crate::engine::facts::Overrides;
use crate::engine::geo::{normalise_country, normalise_region};
use crate::engine::lang::is_language_tag;

/// Most visitor parameters forwarded.
pub const MAX_FORWARDED_PARAMS: usize = 32;
/// Most bytes of forwarded names and values together.
pub const MAX_FORWARDED_BYTES: usize = 2048;

/// A visitor query split into the reserved part and what may be forwarded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitQuery {
    /// The `__preview` token, if given.
    pub token: Option<String>,
    /// Whether `__explain=1` (or `true`) was asked.
    pub explain: bool,
    /// Overrides that parsed.
    pub overrides: Overrides,
    /// Override parameters that were present but invalid, as `(name, reason)`.
    pub rejected: Vec<(String, &'static str)>,
    /// Parameters to forward, in order.
    pub forwarded: Vec<(String, String)>,
    /// How many visitor parameters were dropped by the forwarding limits.
    pub dropped: usize,
}

/// Longest override value looked at.
const MAX_OVERRIDE_LEN: usize = 64;

/// Splits a query into reserved overrides and forwarded parameters.
pub fn split_query<I, K, V>(pairs: I) -> SplitQuery
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = SplitQuery::default();
    let mut region_raw: Option<String> = None;
    let mut budget = MAX_FORWARDED_BYTES;
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        if let Some(reserved) = name.strip_prefix("__") {
            if reserved == "preview" {
                out.token = Some(value.to_owned());
                continue;
            }
            if value.len() > MAX_OVERRIDE_LEN {
                out.rejected.push((name.to_owned(), "value too long"));
                continue;
            }
            let ok = match reserved {
                "explain" => {
                    out.explain = matches!(value, "1" | "true");
                    true
                }
                "country" => set(&mut out.overrides.country, normalise_country(value)),
                "region" => {
                    region_raw = Some(value.to_owned());
                    true
                }
                "device" => set(&mut out.overrides.device, DeviceCategory::parse(value)),
                "os" => set(&mut out.overrides.os, plain_name(value)),
                "lang" => set(
                    &mut out.overrides.lang,
                    is_language_tag(value).then(|| value.to_ascii_lowercase()),
                ),
                "variant" => set(
                    &mut out.overrides.variant,
                    plain_name(value).map(|_| value.to_owned()),
                ),
                "at" => set(
                    &mut out.overrides.at,
                    DateTime::parse_from_rfc3339(value)
                        .ok()
                        .map(|t| t.with_timezone(&Utc)),
                ),
                _ => true,
            };
            if !ok {
                out.rejected.push((name.to_owned(), "invalid value"));
            }
            continue;
        }
        let cost = name.len() + value.len();
        if out.forwarded.len() >= MAX_FORWARDED_PARAMS || cost > budget || name.is_empty() {
            out.dropped += 1;
            continue;
        }
        budget -= cost;
        out.forwarded.push((name.to_owned(), value.to_owned()));
    }
    if let Some(raw) = region_raw {
        out.overrides.region = region_override(out.overrides.country.as_deref(), &raw);
        if out.overrides.region.is_none() {
            out.rejected.push(("__region".to_owned(), "invalid value"));
        }
    }
    out
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let ok = value.is_some();
    if ok {
        *slot = value;
    }
    ok
}

fn plain_name(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| value.to_ascii_lowercase())
}

/// A region override needs a country: its own `CC-` prefix, or the country override.
fn region_override(country: Option<&str>, raw: &str) -> Option<String> {
    match raw.split_once('-') {
        Some((cc, _)) => normalise_country(cc).and_then(|cc| normalise_region(&cc, raw)),
        None => country.and_then(|cc| normalise_region(cc, raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_parameters_are_never_forwarded() {
        let split = split_query([
            ("utm_source", "ig"),
            ("__preview", "tok"),
            ("__country", "ae"),
            ("__region", "du"),
            ("__device", "Tablet"),
            ("__lang", "ar-AE"),
            ("__variant", "b"),
            ("__at", "2026-11-01T10:00:00+05:30"),
            ("__explain", "1"),
            ("__unknown", "x"),
            ("q", "saree"),
        ]);
        assert_eq!(
            split.forwarded,
            vec![
                ("utm_source".into(), "ig".into()),
                ("q".into(), "saree".into())
            ]
        );
        assert_eq!(split.token.as_deref(), Some("tok"));
        assert!(split.explain);
        let o = &split.overrides;
        assert_eq!(o.country.as_deref(), Some("AE"));
        assert_eq!(o.region.as_deref(), Some("AE-DU"));
        assert_eq!(o.device, Some(DeviceCategory::Tablet));
        assert_eq!(o.lang.as_deref(), Some("ar-ae"));
        assert_eq!(o.variant.as_deref(), Some("b"));
        assert_eq!(
            o.at.map(|t| t.to_rfc3339()),
            Some("2026-11-01T04:30:00+00:00".into())
        );
        assert!(split.rejected.is_empty());
    }

    #[test]
    fn invalid_overrides_are_reported_and_ignored() {
        let split = split_query([
            ("__country", "India"),
            ("__device", "phone"),
            ("__at", "yesterday"),
            ("__region", "MH"),
        ]);
        assert!(split.overrides.is_empty());
        let names: Vec<&str> = split.rejected.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["__country", "__device", "__at", "__region"]);
    }

    #[test]
    fn forwarding_is_bounded() {
        let many: Vec<(String, String)> = (0..100)
            .map(|i| (format!("p{i}"), "v".to_owned()))
            .collect();
        let split = split_query(many);
        assert_eq!(split.forwarded.len(), MAX_FORWARDED_PARAMS);
        assert_eq!(split.dropped, 100 - MAX_FORWARDED_PARAMS);
        let huge = split_query([("a", "x".repeat(5000)), ("b", "y".to_owned())]);
        assert_eq!(huge.forwarded, vec![("b".to_owned(), "y".to_owned())]);
    }
}
