//! The wire between `entry.mjs` and [`super::hot_visit`]: the parts string in (its
//! fields, in order) and the answer string out (see the table in [`super`]).

use crate::engine::geo::GeoFacts;
use crate::visit::answer::Answer;

/// The fields of the parts string, in order, separated by `\n` (no header value, path or
/// query can hold a line feed); an empty field is an absent one. `entry.mjs` writes them
/// in this order.
#[derive(Clone, Copy)]
pub(super) enum Field {
    Method,
    Path,
    Query,
    UserAgent,
    ChMobile,
    ChPlatform,
    AcceptLanguage,
    Cookie,
    ConnectingIp,
    ForwardedFor,
    CfCountry,
    CfContinent,
    CfRegionCode,
    CfCity,
    CfAsn,
    /// `1` when the `Cf…` fields were read (empty as they may be), else empty.
    CfRead,
    /// KV reads this visit waited for so far (`X-Kv-Reads` with `EXPOSE_COUNTERS`).
    KvReads,
}

/// How many fields the parts string has.
const FIELDS: usize = Field::KvReads as usize + 1;

/// The parts string split into its fields (in place: a visit allocates no vector for
/// them); fields past the last one are ignored, missing ones are absent.
pub(super) struct Parts<'a>([&'a str; FIELDS]);

impl<'a> Parts<'a> {
    pub(super) fn split(parts: &'a str) -> Self {
        let mut fields = [""; FIELDS];
        for (slot, value) in fields.iter_mut().zip(parts.split('\n')) {
            *slot = value;
        }
        Parts(fields)
    }

    /// The parts of a request made here (the start-up rehearsal's), field by field; the
    /// fields not named are absent.
    pub(super) fn of(fields: &[(Field, &'a str)]) -> Self {
        let mut parts = [""; FIELDS];
        for &(field, value) in fields {
            if let Some(slot) = parts.get_mut(field as usize) {
                *slot = value;
            }
        }
        Parts(parts)
    }

    pub(super) fn get(&self, field: Field) -> Option<&'a str> {
        self.0
            .get(field as usize)
            .copied()
            .filter(|v| !v.is_empty())
    }
}

/// Asks the entry for something before the answer (`G`, `C`); the snapshot re-read this
/// visit was due to start (marked in flight by `store::Held::serve`) is handed over with it.
pub(super) fn ask(what: &str, refresh: bool, handle: &str) -> String {
    if refresh {
        format!("{what} {handle}")
    } else {
        what.to_owned()
    }
}

/// What the entry does after the response (the `@` lines of an answer).
pub(super) struct Tasks<'a> {
    /// The handle whose snapshot to re-read.
    pub(super) refresh: Option<&'a str>,
    /// The exposure message to queue.
    pub(super) exposure: Option<String>,
}

/// The geo fields of `request.cf`, when it sent any.
pub(super) fn cf_geo(parts: &Parts<'_>) -> Option<GeoFacts> {
    let facts = GeoFacts::from_source(
        parts.get(Field::CfCountry),
        parts.get(Field::CfContinent),
        parts.get(Field::CfRegionCode),
        parts.get(Field::CfCity),
        parts.get(Field::CfAsn).and_then(|a| a.parse().ok()),
    );
    (!facts.is_empty()).then_some(facts)
}

/// The answer as the entry reads it: `A`, the status, the headers and tasks, a blank line,
/// the body (none for `HEAD`).
pub(super) fn encode(answer: Answer, head: bool, tasks: &Tasks<'_>) -> String {
    let body = if head {
        String::new()
    } else {
        String::from_utf8_lossy(&answer.body).into_owned()
    };
    let mut out = String::with_capacity(512 + body.len());
    out.push_str("A\n");
    out.push_str(&answer.status.to_string());
    for (name, value) in &answer.headers {
        out.push('\n');
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
    }
    if let Some(handle) = tasks.refresh {
        out.push_str("\n@refresh: ");
        out.push_str(handle);
    }
    // Compact JSON (serde_json escapes control characters): never a line feed.
    if let Some(message) = &tasks.exposure {
        out.push_str("\n@exposure: ");
        out.push_str(message);
    }
    out.push_str("\n\n");
    out.push_str(&body);
    out
}
