//! Rule conditions in words, for the audit's explanations.

use chrono::{DateTime, Utc};

use crate::engine::conditions::{CompiledConditions, DateWindow, Set};

/// A time window in words.
pub(super) fn describe_window((start, end): DateWindow) -> String {
    let at = |t: Option<DateTime<Utc>>, open: &str| t.map_or(open.to_owned(), |t| t.to_rfc3339());
    format!(
        "from {} until {}",
        at(start, "any time"),
        at(end, "any time")
    )
}

/// A rule's conditions in words, e.g. `country in [AE] and language in [ar]`.
pub(super) fn describe(c: &CompiledConditions) -> String {
    if c.is_empty() {
        return "no conditions (matches every visitor)".into();
    }
    let mut parts = Vec::new();
    let mut set = |name: &str, d: Option<String>| {
        if let Some(d) = d {
            parts.push(format!("{name} {d}"));
        }
    };
    set("country", c.country.as_ref().map(Set::describe));
    set("continent", c.continent.as_ref().map(Set::describe));
    set("region", c.region.as_ref().map(Set::describe));
    set("city", c.city.as_ref().map(Set::describe));
    set("eu", c.eu.map(|e| e.to_string()));
    set("asn", c.asn.as_ref().map(Set::describe));
    set("device", c.device.as_ref().map(Set::describe));
    set("os", c.os.as_ref().map(Set::describe));
    set("browser", c.browser.as_ref().map(Set::describe));
    set("language", c.language.as_ref().map(Set::describe));
    for (name, s) in &c.query {
        set(&format!("query.{name}"), Some(s.describe()));
    }
    set("time", c.time.map(describe_window));
    parts.join(" and ")
}
