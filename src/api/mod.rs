//! The management API's pure parts: routes, authentication, errors, and the operations on
//! a handle's configuration. The edge layer does the I/O (KV, D1, DNS-over-HTTPS) and
//! renders [`error::ApiError`] in one place.

pub mod auth;
pub mod error;
pub mod routes;
