//! The visit: a visitor request as plain data in, a [`Plan`] out ([`plan()`]): what the
//! request says about its visitor (headers, the reserved query, the User-Agent, the
//! client address in a MaxMind DB), preview gating, the visitor cookie, the ctx token,
//! and the answer as status, headers and body. The worker, the CLI and the decision
//! vectors all go through [`plan()`]. [`cache`] decides what an isolate serves from the
//! snapshots it read (last-known-good, takedowns, rollbacks); [`exposure`] which visits
//! record an exposure and the queue message that carries it. Depends on [`crate::engine`]
//! and [`crate::model`].

pub mod answer;
pub mod cache;
pub mod exposure;
pub mod geodb;
pub mod headers;
pub mod plan;
pub mod rehearsal;
pub mod reserved_query;
pub mod tokens;
pub mod user_agent;

pub use plan::{plan, Plan};
