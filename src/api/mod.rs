//! The management API as a service over a [`store::Store`]: routes, authentication,
//! throttles, idempotency, one error type per operation converted to one HTTP mapping,
//! and the handlers of every route. The edge implements the store with D1 and KV and
//! renders the service's answers; [`memory::MemoryStore`] runs every route natively.
//! Depends on every layer below it.
//!
//! A request goes through [`service::Api`]: route (404/405) → declared body length
//! (413) → credential for the route's kind (management PAT/JWT with handle and scope,
//! campaign site token, or none) (401/403; repeated failures from one client are
//! throttled, 429) → body (413) → a
//! completed idempotent write is replayed → throttles (429) → the key is reserved (409)
//! → the route's handler, dispatched by one exhaustive `match`.

pub mod auth;
pub mod body;
pub mod campaigns;
pub mod context;
pub mod conversions;
pub mod documents;
pub mod doh;
pub mod domains;
pub mod error;
mod handlers;
pub mod history;
pub mod idempotency;
pub mod limits;
pub mod memory;
#[cfg(not(target_arch = "wasm32"))]
pub mod openapi;
pub mod pages;
pub mod replies;
pub mod reverify;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;
pub mod support;
pub mod trust;
