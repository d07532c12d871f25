//! Analyses over a compiled configuration: the route matrix (country x device), the rule
//! audit (collisions, shadowed and unroutable rules), campaign health, conversion
//! statistics, an A/B test's results with their significance, and what changed between
//! two configurations (the change history's diff). Read-only; used by the API, the CLI
//! and the console. Depends on [`crate::visit`], [`crate::engine`] and [`crate::model`].

pub mod audit;
pub mod diff;
pub mod health;
pub mod matrix;
pub mod results;
pub mod significance;
pub mod stats;
