//! The management API's pure parts: routes, authentication, errors, bodies, and the
//! operations on a handle's configuration. The edge layer does the I/O (KV, D1,
//! DNS-over-HTTPS) and renders [`error::ApiError`] in one place.

pub mod audit;
pub mod auth;
pub mod body;
pub mod doh;
pub mod error;
pub mod matrix;
pub mod ops;
pub mod routes;
