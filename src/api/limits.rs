//! Throttles: fixed one-minute windows per caller and route, a daily write limit per
//! handle, a per-address limit on the public routes and on failed credentials. Counters
//! live in the store ([`Store::count`]); the keys and windows are decided here.
//!
//! - `API_READS_PER_MINUTE` / `API_WRITES_PER_MINUTE` per handle, caller and route;
//! - `API_PUBLIC_PER_MINUTE` per client address and public route;
//! - `DAILY_WRITE_LIMIT` writes per handle per UTC day (management and site-token
//!   writes; public writes have no handle and are bounded per address instead);
//! - `API_AUTH_FAILURES_PER_MINUTE` failed credentials (401) per client address.
//!
//! A client address is known only by [`client_tag`], a short, non-reversible hash.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::auth::Principal;
use super::context::ApiSettings;
use super::error::{ApiError, ErrorCode};
use super::routes::Route;
use super::store::Store;
use crate::model::ids::hex;

/// A short, non-reversible name for a client address (throttle keys, reports).
pub fn client_tag(ip: Option<IpAddr>) -> String {
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    hex(Sha256::digest(ip.as_bytes()).get(..8).unwrap_or_default())
}

/// A fixed window: its number and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The window's number (`now / length`).
    pub index: i64,
    /// When it ends (Unix seconds).
    pub ends_at: i64,
}

impl Window {
    /// The window of `length` seconds that holds `now`.
    pub fn of(now: i64, length: i64) -> Self {
        let index = now.div_euclid(length);
        Window {
            index,
            ends_at: (index + 1) * length,
        }
    }

    /// Seconds until the window ends (at least 1).
    pub fn retry_after(&self, now: i64) -> u32 {
        u32::try_from((self.ends_at - now).max(1)).unwrap_or(u32::MAX)
    }
}

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// Counts one request against the route's throttle and, for writes, the daily limit.
///
/// # Errors
/// 429 `rate_limited` or `daily_write_limit` with `Retry-After`; storage failures.
pub async fn throttle<S: Store>(
    store: &S,
    settings: &ApiSettings,
    route: &Route,
    principal: &Principal,
    scope: &str,
    now: i64,
) -> Result<(), ApiError> {
    let minute = Window::of(now, MINUTE);
    let limit = match (route.is_public(), route.write) {
        (true, _) => settings.public_per_minute,
        (false, true) => settings.writes_per_minute,
        (false, false) => settings.reads_per_minute,
    };
    let key = format!(
        "route:{scope}:{}:{} {}:{}",
        principal.sub, route.method, route.pattern, minute.index
    );
    if store.count(&key, minute.ends_at, now).await? > limit {
        return Err(ApiError::RateLimited {
            code: ErrorCode::RateLimited,
            retry_after: minute.retry_after(now),
        });
    }
    if route.write && !route.is_public() {
        let day = Window::of(now, DAY);
        let key = format!("daily:{scope}:{}", day.index);
        if store.count(&key, day.ends_at, now).await? > settings.daily_write_limit {
            return Err(ApiError::RateLimited {
                code: ErrorCode::DailyWriteLimit,
                retry_after: day.retry_after(now),
            });
        }
    }
    Ok(())
}

/// Counts a credential failure (401) against the client; past the limit the answer is
/// 429 instead. Other errors pass through uncounted (a 403 comes from a valid token).
pub async fn auth_failed<S: Store>(
    store: &S,
    settings: &ApiSettings,
    client: &str,
    now: i64,
    error: ApiError,
) -> ApiError {
    if error.status() != 401 {
        return error;
    }
    let minute = Window::of(now, MINUTE);
    let key = format!("authfail:{client}:{}", minute.index);
    match store.count(&key, minute.ends_at, now).await {
        Ok(count) if count > settings.auth_failures_per_minute => ApiError::RateLimited {
            code: ErrorCode::RateLimited,
            retry_after: minute.retry_after(now),
        },
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_on_their_boundary() {
        let w = Window::of(125, 60);
        assert_eq!((w.index, w.ends_at), (2, 180));
        assert_eq!(w.retry_after(125), 55);
        assert_eq!(Window::of(179, 60).retry_after(179), 1);
        assert_eq!(Window::of(180, 60).index, 3);
        let day = Window::of(86_400 * 3 + 5, DAY);
        assert_eq!((day.index, day.retry_after(86_400 * 3 + 5)), (3, 86_395));
    }

    #[test]
    fn client_tags_hash_the_address() {
        let a = client_tag("203.0.113.7".parse().ok());
        assert_eq!(a.len(), 16);
        assert_ne!(a, client_tag("203.0.113.8".parse().ok()));
        assert_eq!(client_tag(None), client_tag(None));
    }
}
