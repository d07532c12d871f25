//! The management API's pure parts: routes, authentication, errors, bodies, and the
//! operations on a handle's configuration (UC-08: `ops`; UC-07: `campaigns`, `pages`,
//! `conversions`, `support`). The edge layer does the I/O (KV, D1, DNS-over-HTTPS) and
//! renders [`error::ApiError`] in one place. Depends on every layer below it.

pub mod auth;
pub mod body;
pub mod campaigns;
pub mod conversions;
pub mod doh;
pub mod error;
pub mod ops;
pub mod pages;
pub mod routes;
pub mod support;
