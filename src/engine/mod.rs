//! The engine: compile a configuration into a [`ruleset::RuleSet`] and decide a visit with
//! it. Conditions, the allowlist, bucketing, tracking templates, snapshots and the explain
//! trace live here, with the facts they decide on. Pure; deciding cannot fail. Depends
//! only on [`crate::model`].

pub mod allowlist;
pub mod bucket;
pub mod compile;
pub mod conditions;
pub mod device;
mod edge_time;
pub mod explain;
pub mod facts;
pub mod geo;
pub mod lang;
pub mod ruleset;
pub mod snapshot;
pub mod template;

pub use conditions::Mismatch;
