//! Throttles: fixed one-minute windows per caller and route, a daily write limit per
//! handle, a per-address limit on the public routes and on failed credentials. Counters
//! live in the store ([`Store::count`]); the keys and windows are decided here.
//!
//! - `API_READS_PER_MINUTE` / `API_WRITES_PER_MINUTE` per handle, caller and route;
//! - `API_PUBLIC_PER_MINUTE` per client address and public route;
//! - `DAILY_WRITE_LIMIT` *successful* writes per handle, UTC day and kind of credential
//!   (management tokens and site tokens each have their own budget, so a site token
//!   cannot exhaust the management API's); a refused write costs nothing. Pausing or
//!   canceling a campaign and rejecting a domain stay possible when the budget is spent:
//!   they stop traffic, they never start it. Public writes have no handle and are
//!   bounded per address instead;
//! - `API_AUTH_FAILURES_PER_MINUTE` failed credentials (401) per client address; once
//!   over, the next request of that address is refused before its credential is even
//!   looked at.
//!
//! A client address is known only by [`client_tag`], a short, non-reversible hash; an
//! IPv6 address by its /64, the block one subscriber usually holds, so rotating through
//! it does not buy fresh budgets.
//!
//! Why D1 counters and not Cloudflare's Rate Limiting binding: the binding counts per
//! Cloudflare location and only over 10 or 60 seconds, while the daily write limit needs
//! one exact count per handle and day, and the auth-failure budget has to be read before
//! a request is let in; one mechanism, exact and testable natively over the in-memory
//! store, is simpler than two. The cost is a D1 statement per API request, which the
//! API's volume (writes by marketers, not visitors) bears easily; the visitor path never
//! touches a counter.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::auth::Principal;
use super::context::ApiSettings;
use super::error::{ApiError, ErrorCode};
use super::routes::{Route, RouteId};
use super::store::Store;
use crate::model::ids::hex;
use crate::model::lifecycle::Transition;

/// A short, non-reversible name for a client address (throttle keys, reports): an IPv4
/// address, or the /64 of an IPv6 one.
pub fn client_tag(ip: Option<IpAddr>) -> String {
    let key = match ip {
        Some(IpAddr::V6(v6)) => {
            let mut segments = v6.segments();
            segments.iter_mut().skip(4).for_each(|s| *s = 0);
            format!("{}/64", std::net::Ipv6Addr::from(segments))
        }
        Some(v4) => v4.to_string(),
        None => String::new(),
    };
    hex(Sha256::digest(key.as_bytes()).get(..8).unwrap_or_default())
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

/// Counts one request against the route's per-minute throttle and refuses a write when
/// the day's budget of its kind of credential is spent (unless it is `exempt`).
///
/// # Errors
/// 429 `rate_limited` or `daily_write_limit` with `Retry-After`; storage failures.
pub async fn throttle<S: Store>(
    store: &S,
    settings: &ApiSettings,
    route: &Route,
    principal: &Principal,
    scope: &str,
    exempt: bool,
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
    if let Some((key, day)) = daily_key(route, principal, now).filter(|_| !exempt) {
        if store.peek(&key, now).await? >= settings.daily_write_limit {
            return Err(ApiError::RateLimited {
                code: ErrorCode::DailyWriteLimit,
                retry_after: day.retry_after(now),
            });
        }
    }
    Ok(())
}

/// Counts a write that succeeded against its daily budget.
///
/// # Errors
/// Storage failures.
pub async fn count_write<S: Store>(
    store: &S,
    route: &Route,
    principal: &Principal,
    now: i64,
) -> Result<(), ApiError> {
    if let Some((key, day)) = daily_key(route, principal, now) {
        store.count(&key, day.ends_at, now).await?;
    }
    Ok(())
}

/// The daily budget a write counts against: per handle, day and kind of credential.
fn daily_key(route: &Route, principal: &Principal, now: i64) -> Option<(String, Window)> {
    if !route.write || route.is_public() {
        return None;
    }
    let kind = if route.site_token {
        "site"
    } else {
        "management"
    };
    let day = Window::of(now, DAY);
    Some((
        format!("daily:{}:{kind}:{}", principal.handle, day.index),
        day,
    ))
}

/// Whether a write stays possible when the daily budget is spent: pausing or canceling
/// a campaign, rejecting a domain (a body that says `"decision": "rejected"`).
pub fn exempt_from_daily(route: RouteId, body: &[u8]) -> bool {
    match route {
        RouteId::TransitionCampaign(Transition::Pause | Transition::Cancel) => true,
        RouteId::DecideDomain => serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("decision").and_then(|d| d.as_str()) == Some("rejected")),
        _ => false,
    }
}

/// The key of a client's failed credentials in this minute.
fn auth_failure_key(client: &str, minute: Window) -> String {
    format!("authfail:{client}:{}", minute.index)
}

/// A 429 when the client has spent its failed-credential budget this minute: checked
/// before its credential is looked at.
///
/// # Errors
/// Storage failures.
pub async fn auth_blocked<S: Store>(
    store: &S,
    settings: &ApiSettings,
    client: &str,
    now: i64,
) -> Result<Option<ApiError>, ApiError> {
    let minute = Window::of(now, MINUTE);
    let failures = store.peek(&auth_failure_key(client, minute), now).await?;
    Ok(
        (failures >= settings.auth_failures_per_minute).then(|| ApiError::RateLimited {
            code: ErrorCode::RateLimited,
            retry_after: minute.retry_after(now),
        }),
    )
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
    match store
        .count(&auth_failure_key(client, minute), minute.ends_at, now)
        .await
    {
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
    fn client_tags_hash_the_address_and_an_ipv6_block() {
        let a = client_tag("203.0.113.7".parse().ok());
        assert_eq!(a.len(), 16);
        assert_ne!(a, client_tag("203.0.113.8".parse().ok()));
        assert_eq!(client_tag(None), client_tag(None));
        let v6 = |s: &str| client_tag(s.parse().ok());
        assert_eq!(
            v6("2001:db8:1:2::1"),
            v6("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "one /64"
        );
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
    }

    #[test]
    fn stopping_traffic_is_exempt_from_the_daily_budget() {
        use crate::model::lifecycle::Transition as T;
        assert!(exempt_from_daily(
            RouteId::TransitionCampaign(T::Pause),
            b""
        ));
        assert!(exempt_from_daily(
            RouteId::TransitionCampaign(T::Cancel),
            b""
        ));
        assert!(!exempt_from_daily(
            RouteId::TransitionCampaign(T::Activate),
            b""
        ));
        assert!(exempt_from_daily(
            RouteId::DecideDomain,
            br#"{"decision":"rejected","reason":"x"}"#
        ));
        assert!(!exempt_from_daily(
            RouteId::DecideDomain,
            br#"{"decision":"approved","reason":"x"}"#
        ));
        assert!(!exempt_from_daily(RouteId::PutRule, b"{}"));
    }
}
