//! # Edge personalization router
//!
//! A Cloudflare Worker (Rust compiled to wasm) that sends each visitor of an entry
//! `/{handle}/{slug}` to the right storefront, and never anywhere else.
//!
//! The crate is a **pure core** (everything outside `edge`), which never names the
//! `worker` crate and is tested natively, and a thin **edge layer** (`src/edge`, wasm
//! only) that turns requests into facts, reads KV and D1, and renders responses.
//!
//! ## The rule model
//!
//! A handle has entries, rules, destination domains, tracking templates and campaigns
//! ([`config`]). A rule has an `id`, a `priority`, `enabled`, the entries it applies to,
//! conditions, and a destination and/or a campaign.
//!
//! **Conditions** are ANDed; each is a set test (`in` / `not_in`) on one fact: country,
//! continent, region, city, ASN, device category, OS, browser, language, a query
//! parameter; plus `eu: true|false` and a time window. `in` holds when the fact is known
//! and listed; `not_in` holds when it is unknown or not listed. No conditions: always.
//!
//! **Evaluation** of a visit to entry *e* (see [`RuleSet::decide`]):
//! 1. Take the enabled rules that apply to *e*, ordered by `(priority ascending, id
//!    ascending)`: ties are broken by id, so the order is total and stable.
//! 2. A recognised crawler only considers rules whose device condition is
//!    `in: [crawler, ...]`.
//! 3. The first rule whose conditions hold is the candidate:
//!    - with a plain destination: it wins if the destination is routable; otherwise it is
//!      skipped (the trace says why) and evaluation goes on;
//!    - with a campaign: it wins. An active, started campaign assigns a variant by
//!      deterministic bucketing ([`bucket`]); the variant's destination is used if
//!      routable. Otherwise (draft, paused, canceled, completed, not started, crawler,
//!      unroutable variant) the rule's own destination is used if routable, else the
//!      entry's default.
//! 4. No rule wins: the entry's default destination.
//! 5. A default that is not routable: the handle's fallback page; that not routable or
//!    missing: the worker's own safe page.
//!
//! **Routable** ([`allowlist`]) means https, no user info, no port, and a host covered by
//! a destination-domain entry that is verified AND approved, where a manual decision
//! overrides the risk score. The final location (after the tracking template, which only
//! adds query parameters) is checked against the allowlist once more: no decision ever
//! redirects off the allowlist.
//!
//! Deciding cannot fail and never parses: [`compile()`] parses URLs, times and templates
//! once, reports every problem with its JSON path ([`diag`]), and builds a per-entry
//! country index so that deciding looks only at rules that can match.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod allowlist;
pub mod api;
pub mod bucket;
pub mod campaign;
pub mod client;
pub mod compile;
mod conditions;
pub mod config;
pub mod device;
pub mod diag;
pub mod explain;
pub mod facts;
pub mod geo;
pub mod lang;
pub mod preview;
pub mod ruleset;
pub mod snapshot;
pub mod synth;
pub mod template;
pub mod token;

#[cfg(not(target_arch = "wasm32"))]
pub mod rulefiles;

#[cfg(target_arch = "wasm32")]
mod edge;

pub use compile::{compile, validate, Compiled};
pub use conditions::Mismatch;
pub use config::HandleConfig;
pub use diag::{CompileError, Diagnostic, Severity};
pub use facts::Facts;
pub use ruleset::{Decision, Outcome, RuleSet, Visit};
