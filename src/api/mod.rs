//! The management API's pure parts: routes, authentication, errors, bodies, and the
//! operations on a handle's configuration (UC-08: `ops`, `audit`, `matrix`; UC-07:
//! `campaigns`, `health`, `pages`, `conversions`, `stats`). The edge layer does the I/O
//! (KV, D1, DNS-over-HTTPS) and renders [`error::ApiError`] in one place.

pub mod audit;
pub mod auth;
pub mod body;
pub mod campaigns;
pub mod conversions;
pub mod doh;
pub mod error;
pub mod health;
pub mod matrix;
pub mod ops;
pub mod pages;
pub mod routes;
pub mod stats;
pub mod support;
