//! # Edge personalization router
//!
//! A Cloudflare Worker (Rust compiled to wasm) that sends each visitor of an entry
//! `/{handle}/{slug}` to the right storefront, and never anywhere else.
//!
//! ## Layers
//!
//! Each folder of `src/` is a layer that uses only the layers below it:
//!
//! ```text
//! bin/router   the CLI (rule files, push, preview, matrix, audit; benchmark generator)
//! edge         wasm only: entry point, KV/D1 stores, rendering responses; no policy
//! api          the management API as a service over a store: routes, auth, limits, errors
//! analysis     route matrix, rule audit, campaign health, conversion statistics
//! visit        a request's facts (headers, reserved query, User-Agent, mmdb), tokens
//! engine       compile and decide: conditions, allowlist, bucketing, templates, snapshots
//! model        wire types of a configuration, campaign lifecycle, ids, diagnostics
//! ```
//!
//! Everything outside `edge` never names the `worker` crate and is tested natively.

//! ## The rule model
//!
//! A handle has entries, rules, destination domains, tracking templates and campaigns
//! ([`model::config`]). A rule has an `id`, a `priority`, `enabled`, the entries it applies to,
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
//!      deterministic bucketing ([`engine::bucket`]); the variant's destination is used if
//!      routable. Otherwise (draft, paused, canceled, completed, not started, crawler,
//!      unroutable variant) the rule's own destination is used if routable, else the
//!      entry's default.
//! 4. No rule wins: the entry's default destination.
//! 5. A default that is not routable: the handle's fallback page; that not routable or
//!    missing: the worker's own safe page.
//!
//! **Routable** ([`engine::allowlist`]) means https, no user info, no port, and a host covered by
//! a destination-domain entry that is verified AND approved, where a manual decision
//! overrides the risk score. The final location (after the tracking template, which only
//! adds query parameters) is checked against the allowlist once more: no decision ever
//! redirects off the allowlist.
//!
//! Deciding cannot fail and parses nothing it has parsed before: [`compile()`] parses URLs,
//! times and templates once, reports every problem with its JSON path ([`model::diag`]),
//! and builds a per-entry country index so that deciding looks only at rules that can
//! match. The edge loads a published snapshot with [`compile_published()`], which leaves
//! each destination (its publisher checked them all) to be parsed and checked against the
//! allowlist the first time a visit reaches it.

pub mod analysis;
pub mod api;
pub mod engine;
pub mod model;
pub mod visit;

#[cfg(target_arch = "wasm32")]
mod edge;

pub use engine::compile::{compile, compile_published, validate, Compiled};
pub use engine::facts::Facts;
pub use engine::ruleset::{Decision, Outcome, RuleSet, Visit};
pub use engine::Mismatch;
pub use model::config::HandleConfig;
pub use model::diag::{CompileError, Diagnostic, Severity};
