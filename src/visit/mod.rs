//! The visit: what a request says about its visitor (headers, the reserved query, the
//! User-Agent, the client address in a MaxMind DB) and the signed tokens a visit reads
//! and hands out. Depends on [`crate::engine`] and [`crate::model`].

pub mod geodb;
pub mod headers;
pub mod reserved_query;
pub mod tokens;
pub mod user_agent;
