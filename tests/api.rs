//! The management API run natively: every route through `Api::handle` over a
//! `MemoryStore` seeded like `make dev` seeds local KV and D1; no server, no network, no
//! sleeping (the clock is the world's). The end-to-end suites (`tests/e2e/api*.test.mjs`,
//! `campaigns.test.mjs`, `security.test.mjs`) pin the same behaviour against workerd.
// Test code: clippy.toml's *-in-tests options reach only #[test] fns, not these helpers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "api/harness.rs"]
mod harness;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/bodies.rs"]
mod bodies;
#[path = "api/campaigns.rs"]
mod campaigns;
#[path = "api/configuration.rs"]
mod configuration;
#[path = "api/domains.rs"]
mod domains;
#[path = "api/history.rs"]
mod history;
#[path = "api/idempotency.rs"]
mod idempotency;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/promote.rs"]
mod promote;
#[path = "api/public.rs"]
mod public;
#[path = "api/restore.rs"]
mod restore;
#[path = "api/results.rs"]
mod results;
#[path = "api/routing.rs"]
mod routing;
#[path = "api/rules.rs"]
mod rules;
#[path = "api/storage.rs"]
mod storage;
#[path = "api/whoami.rs"]
mod whoami;
