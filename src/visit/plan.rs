//! A visit as plain data: the request's parts in, a [`Plan`] out. Everything the worker
//! decides about a visitor happens here, so the CLI, the decision vectors and the edge
//! run the very same path:
//!
//! 1. split the query into reserved `__*` parameters and what is forwarded;
//! 2. accept the overrides only with a valid preview token for this handle;
//! 3. gather the facts (geo sources in the configured order, the device, the language);
//! 4. take the visitor id from the `gh_vid` cookie, or mint one from the random bytes;
//!    without usable random bytes (the platform's source failed, or gave all zeros) a visit
//!    that needs a new id gets the safe fallback, with no cookie: never an id every such
//!    visitor would share (issue 10);
//! 5. decide, or explain when a valid preview asks for `__explain=1`;
//! 6. sign a ctx token when a variant was assigned and the template uses `{ctx}` (never
//!    for previews);
//! 7. answer: a 302 with the cookie for a new visitor (never for previews or crawlers),
//!    the worker's own safe page, or the not-found page;
//! 8. with a redirect to an assigned variant, the [`Exposure`] to record, unless the
//!    visit is a preview, a crawler, a HEAD request or a link-preview fetcher
//!    ([`super::exposure`]).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use url::Url;

use super::answer::{Answer, Body};
use super::exposure::{exposed, Exposure, VisitKind};
use super::geodb::GeoDb;
use super::headers::{set_cookie, visitor_id_from_cookies};
use super::reserved_query::split_query;
use super::tokens::{self, CtxClaims, PreviewClaims, TokenKind};
use super::user_agent::{classify, DeviceHeaders};
use crate::engine::device::{DeviceCategory, DeviceFacts};
use crate::engine::explain::{ExplainContext, Explanation};
use crate::engine::facts::{gather, FactInputs};
use crate::engine::geo::{GeoFacts, GeoSource};
use crate::engine::ruleset::{Outcome, Visit};
use crate::engine::snapshot::Loaded;
use crate::model::ids::{fresh_random, hex};

/// What a visit needs from the worker's settings.
#[derive(Debug, Clone)]
pub struct VisitSettings {
    /// Geo sources in the order they are asked.
    pub geo_order: Vec<GeoSource>,
    /// Signs and checks preview and ctx tokens; none: no previews, no ctx.
    pub token_secret: Option<Vec<u8>>,
    /// Lifetime of the ctx tokens handed to destinations.
    pub ctx_ttl_seconds: i64,
    /// Where visitors go when no snapshot can be read at all (https only).
    pub safe_fallback: Option<Url>,
}

/// How the device is known: from the request's headers, classified here or already (the
/// edge remembers classifications), or as facts alone (the CLI's `--device`, the decision
/// vectors). Besides the device, the exposure rule reads the User-Agent (link-preview
/// fetchers, [`super::exposure`]); with [`DeviceInput::Known`] there is none to read.
#[derive(Debug, Clone)]
pub enum DeviceInput<'a> {
    /// `User-Agent` and client hints, classified with woothee.
    Headers(DeviceHeaders<'a>),
    /// The headers and what they were classified as already.
    Classified {
        /// The headers.
        headers: DeviceHeaders<'a>,
        /// Their classification ([`super::user_agent::classify`] or its memo).
        facts: DeviceFacts,
    },
    /// Facts given as they are, without headers.
    Known(DeviceFacts),
}

impl DeviceInput<'_> {
    /// The User-Agent, when the device came with headers.
    fn user_agent(&self) -> Option<&str> {
        match self {
            Self::Headers(headers) | Self::Classified { headers, .. } => headers.user_agent,
            Self::Known(_) => None,
        }
    }
}

/// What the request says about where the visitor is.
#[derive(Debug, Clone, Default)]
pub struct GeoInput<'a> {
    /// The geo fields of `request.cf`, when it has any.
    pub cf: Option<GeoFacts>,
    /// The client address (see [`super::headers::client_ip`]).
    pub client_ip: Option<IpAddr>,
    /// The MaxMind DB, when the edge has it (it reads it only when [`needs_mmdb`]).
    pub mmdb: Option<&'a GeoDb>,
    /// The MaxMind DB's answer for `client_ip`, when the caller looked it up already (the
    /// edge does, to know whether `request.cf` is needed): not looked up again.
    pub mmdb_answer: Option<Option<GeoFacts>>,
}

impl GeoInput<'_> {
    /// What the MaxMind DB says about `client_ip` (`None`: no DB, no address, no record).
    pub fn mmdb_lookup(&self) -> Option<GeoFacts> {
        match (&self.mmdb_answer, self.mmdb, self.client_ip) {
            (Some(answer), _, _) => answer.clone(),
            (None, Some(db), Some(ip)) => db.lookup(ip),
            _ => None,
        }
    }
}

/// The parts of a visitor request a visit reads.
#[derive(Debug, Clone)]
pub struct RequestParts<'a> {
    /// The request id (`X-Request-Id`, the explain trace, the safe page's reference).
    pub request_id: &'a str,
    /// The entry slug (the path after the handle, lower-cased).
    pub entry: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// `Accept-Language`.
    pub accept_language: Option<&'a str>,
    /// The device.
    pub device: DeviceInput<'a>,
    /// The geography.
    pub geo: GeoInput<'a>,
    /// Whether the method is HEAD (answered like GET, never an exposure).
    pub head: bool,
}

/// The handle's snapshot as the isolate holds it.
#[derive(Debug, Clone, Copy)]
pub struct HeldSnapshot<'a> {
    /// The compiled snapshot.
    pub loaded: &'a Loaded,
    /// Whether the latest refresh failed and this is the last-known-good one.
    pub stale: bool,
}

/// A ctx token handed to the destination, with what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCtx {
    /// The signed token.
    pub token: String,
    /// Its claims.
    pub claims: CtxClaims,
}

/// What to answer a visit with.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A 302.
    Redirect {
        /// The final location, on the allowlist.
        location: String,
        /// What kind of decision it was.
        outcome: Outcome,
        /// `Set-Cookie` for a new visitor.
        set_cookie: Option<String>,
        /// The ctx token in the location, if one was issued.
        ctx: Option<IssuedCtx>,
        /// Whether a valid preview token came with the visit.
        preview: bool,
        /// The snapshot decided with.
        version: u64,
        /// Whether that snapshot is the last-known-good one.
        stale: bool,
        /// The exposure to record (sent after the response), if the visit is one.
        exposure: Option<Box<Exposure>>,
    },
    /// The explain trace of a valid preview that asked for it.
    Explain {
        /// The trace.
        explanation: Box<Explanation>,
        /// Whether the snapshot is the last-known-good one.
        stale: bool,
    },
    /// Nothing routable: the worker's own page.
    SafePage {
        /// Whether a valid preview token came with the visit.
        preview: bool,
        /// The snapshot decided with.
        version: u64,
        /// Whether that snapshot is the last-known-good one.
        stale: bool,
    },
    /// No such handle or entry.
    NotFound {
        /// The snapshot's version, when the handle is known.
        version: Option<u64>,
    },
    /// The handle was taken down (a tombstone, or a deleted snapshot key confirmed): the
    /// not-found page, never a redirect.
    TakenDown,
    /// The visit cannot be served: the operator's fallback, or a page.
    Unavailable {
        /// `SAFE_FALLBACK_URL`.
        fallback: Option<String>,
        /// Why.
        why: Unserved,
    },
}

/// Whether the MaxMind DB is needed: some source before it in the order left the country
/// unknown (or it comes first). The edge reads the database only then.
pub fn needs_mmdb(order: &[GeoSource], cf: Option<&GeoFacts>) -> bool {
    for source in order {
        match source {
            GeoSource::Mmdb => return true,
            GeoSource::Cf if cf.is_some_and(|g| g.country.is_some()) => return false,
            GeoSource::Cf => {}
        }
    }
    false
}

/// Whether `request.cf` is needed: it comes before any source that knows the country
/// (`mmdb`: what the MaxMind DB says about the client, `None` when it was not asked, is
/// not held or has no record). The edge reads `request.cf` only then.
pub fn needs_cf(order: &[GeoSource], mmdb: Option<&GeoFacts>) -> bool {
    for source in order {
        match source {
            GeoSource::Cf => return true,
            GeoSource::Mmdb if mmdb.is_some_and(|g| g.country.is_some()) => return false,
            GeoSource::Mmdb => {}
        }
    }
    false
}

/// What each configured geo source says, in order, up to the first that knows the
/// country.
fn geo_sources(order: &[GeoSource], geo: &GeoInput<'_>) -> Vec<(GeoSource, GeoFacts)> {
    let mut found: Vec<(GeoSource, GeoFacts)> = Vec::with_capacity(order.len());
    for source in order {
        if found.iter().any(|(_, g)| g.country.is_some()) {
            break;
        }
        let facts = match source {
            GeoSource::Cf => geo.cf.clone(),
            GeoSource::Mmdb => geo.mmdb_lookup(),
        };
        if let Some(facts) = facts {
            found.push((*source, facts));
        }
    }
    found
}

/// Why a visit gets the safe fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unserved {
    /// No snapshot could be read and none is held.
    SnapshotUnavailable,
    /// A new visitor needs an id and the random source failed.
    RandomUnavailable,
}

impl Unserved {
    /// The `X-Router-Outcome` name.
    pub fn outcome_name(self) -> &'static str {
        match self {
            Unserved::SnapshotUnavailable => "snapshot_unavailable",
            Unserved::RandomUnavailable => "random_unavailable",
        }
    }
}

fn unavailable(why: Unserved, settings: &VisitSettings) -> Plan {
    Plan::Unavailable {
        fallback: settings.safe_fallback.as_ref().map(Url::to_string),
        why,
    }
}

/// Why a visit has no snapshot to decide with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSnapshot {
    /// No such handle.
    Unknown,
    /// The handle was taken down.
    TakenDown,
    /// None could be read and none is held.
    Unavailable,
}

/// The answer when the handle has no snapshot to decide with: unknown or taken down (the
/// 404 page) or, when none could be read, the safe fallback.
pub fn without_snapshot(why: NoSnapshot, settings: &VisitSettings) -> Plan {
    match why {
        NoSnapshot::Unknown => Plan::NotFound { version: None },
        NoSnapshot::TakenDown => Plan::TakenDown,
        NoSnapshot::Unavailable => unavailable(Unserved::SnapshotUnavailable, settings),
    }
}

/// Plans the answer to one visit. Never fails: whatever the input, the answer is a
/// redirect on the allowlist, a page, or the explain trace of a valid preview. `random`
/// is what the platform's random source gave (`None`: it failed); only a visit without a
/// visitor cookie needs it.
pub fn plan(
    snapshot: HeldSnapshot<'_>,
    parts: &RequestParts<'_>,
    settings: &VisitSettings,
    now: DateTime<Utc>,
    random: Option<[u8; 16]>,
) -> Plan {
    let HeldSnapshot { loaded, stale } = snapshot;
    let ruleset = &loaded.ruleset;
    let version = loaded.version;
    let split = split_query(url::form_urlencoded::parse(parts.query.as_bytes()));
    let preview = match (&split.token, &settings.token_secret) {
        (Some(token), Some(secret)) => {
            tokens::verify::<PreviewClaims>(TokenKind::Preview, secret, token, now.timestamp())
                .ok()
                .filter(|signed| signed.claims.handle == ruleset.handle())
        }
        _ => None,
    };
    let is_preview = preview.is_some();
    let overrides = is_preview.then_some(&split.overrides);
    let device = match &parts.device {
        DeviceInput::Headers(headers) => classify(*headers),
        DeviceInput::Classified { facts, .. } | DeviceInput::Known(facts) => facts.clone(),
    };
    let (facts, sources) = gather(FactInputs {
        geo: geo_sources(&settings.geo_order, &parts.geo),
        device,
        accept_language: parts.accept_language,
        query: split.forwarded.clone(),
        now,
        overrides,
    });
    let cookie_id = parts.cookie.and_then(visitor_id_from_cookies);
    let visitor_id = match (cookie_id, fresh_random(random)) {
        (Some(id), _) => id.to_owned(),
        (None, Some(random)) => hex(&random),
        (None, None) => return unavailable(Unserved::RandomUnavailable, settings),
    };
    let visit = Visit {
        entry: parts.entry,
        facts: &facts,
        visitor_id: &visitor_id,
        forced_variant: overrides.and_then(|o| o.variant.as_deref()),
    };
    if is_preview && split.explain {
        let context = ExplainContext {
            request_id: parts.request_id,
            snapshot_version: version,
            preview: true,
            preview_sub: preview.as_ref().and_then(|p| p.claims.sub.as_deref()),
            overrides: &split.overrides,
            rejected: &split.rejected,
            sources: &sources,
        };
        let (explanation, _) = ruleset.explain(&visit, &context);
        return Plan::Explain {
            explanation: Box::new(explanation),
            stale,
        };
    }
    let decision = ruleset.decide(&visit);
    if decision.outcome == Outcome::UnknownEntry {
        return Plan::NotFound {
            version: Some(version),
        };
    }
    let ctx = match (decision.assignment, &settings.token_secret) {
        (Some(a), Some(secret))
            if !is_preview
                && ruleset
                    .template_for(&decision)
                    .is_some_and(|t| t.uses_ctx()) =>
        {
            let claims = CtxClaims {
                handle: ruleset.handle().to_owned(),
                campaign: a.campaign.id.clone(),
                variant: a.variant.key.clone(),
                vid: visitor_id.clone(),
            };
            let token = tokens::sign(
                TokenKind::Ctx,
                secret,
                claims.clone(),
                now.timestamp(),
                settings.ctx_ttl_seconds,
            );
            Some(IssuedCtx { token, claims })
        }
        _ => None,
    };
    match ruleset.location(&decision, &visit, ctx.as_ref().map(|c| c.token.as_str())) {
        Some(location) => {
            let new_visitor =
                cookie_id.is_none() && !is_preview && facts.device != DeviceCategory::Crawler;
            let kind = VisitKind {
                preview: is_preview,
                device: facts.device,
                head: parts.head,
                user_agent: parts.device.user_agent(),
            };
            let exposure = decision
                .assignment
                .filter(|_| exposed(kind).is_ok())
                .map(|a| {
                    Box::new(Exposure {
                        id: parts.request_id.to_owned(),
                        handle: ruleset.handle().to_owned(),
                        campaign: a.campaign.id.clone(),
                        variant: a.variant.key.clone(),
                        visitor_id: visitor_id.clone(),
                        at: now.timestamp_millis(),
                    })
                });
            Plan::Redirect {
                location: location.into(),
                outcome: decision.outcome,
                set_cookie: new_visitor.then(|| set_cookie(&visitor_id)),
                ctx,
                preview: is_preview,
                version,
                stale,
                exposure,
            }
        }
        None => Plan::SafePage {
            preview: is_preview,
            version,
            stale,
        },
    }
}

/// The `X-Router-Outcome` name of an outcome.
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Rule => "rule",
        Outcome::EntryDefault => "entry_default",
        Outcome::HandleFallback => "handle_fallback",
        Outcome::SafePage => "safe_page",
        Outcome::UnknownEntry => "unknown_entry",
    }
}

impl Plan {
    /// The HTTP answer: status, headers and body, in one piece.
    pub fn answer(&self, request_id: &str) -> Answer {
        let mut answer = Answer::new(request_id);
        let snapshot = |answer: &mut Answer, version: u64, stale: bool| {
            answer.header("X-Snapshot-Version", version.to_string());
            if stale {
                answer.header("X-Snapshot-Stale", "1");
            }
        };
        match self {
            Plan::Redirect {
                location,
                outcome,
                set_cookie,
                preview,
                version,
                stale,
                ..
            } => {
                snapshot(&mut answer, *version, *stale);
                if *preview {
                    answer.header("X-Router-Preview", "1");
                }
                answer.header("X-Router-Outcome", outcome_name(*outcome));
                if let Some(cookie) = set_cookie {
                    answer.header("Set-Cookie", cookie.clone());
                }
                answer.redirect(location)
            }
            Plan::Explain { explanation, stale } => {
                snapshot(&mut answer, explanation.snapshot_version, *stale);
                match serde_json::to_vec_pretty(explanation) {
                    Ok(json) => answer.json(200, json),
                    Err(_) => answer.page(200, &Body::safe_page(request_id)),
                }
            }
            Plan::SafePage {
                preview,
                version,
                stale,
            } => {
                snapshot(&mut answer, *version, *stale);
                if *preview {
                    answer.header("X-Router-Preview", "1");
                }
                answer.header("X-Router-Outcome", "safe_page");
                answer.page(200, &Body::safe_page(request_id))
            }
            Plan::NotFound { version } => {
                if let Some(version) = version {
                    answer.header("X-Snapshot-Version", version.to_string());
                }
                answer.header("X-Router-Outcome", "unknown_entry");
                answer.page(404, &Body::not_found(request_id))
            }
            Plan::TakenDown => {
                answer.header("X-Router-Outcome", "taken_down");
                answer.page(404, &Body::not_found(request_id))
            }
            Plan::Unavailable { fallback, why } => {
                answer.header("X-Router-Outcome", why.outcome_name());
                match fallback {
                    Some(url) => answer.redirect(url),
                    None => answer.page(200, &Body::unavailable(request_id)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
