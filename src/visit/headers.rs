//! What the router reads from request headers besides device and language: the client
//! address (`CF-Connecting-IP`, or `X-Forwarded-For` where trusted) and the visitor-id
//! cookie. Pure and bounded, so hostile headers cost nothing and are fuzzed.

use std::net::IpAddr;

/// The visitor-id cookie.
pub const COOKIE: &str = "gh_vid";
/// Its lifetime: one year.
pub const COOKIE_MAX_AGE: u32 = 365 * 24 * 3600;
/// Longest header value looked at; longer ones are ignored as hostile.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The first address of an `X-Forwarded-For` value (bracketed IPv6 accepted; anything
/// else, or an overlong value, is no address).
pub fn parse_forwarded_for(value: &str) -> Option<IpAddr> {
    if value.len() > MAX_HEADER_LEN {
        return None;
    }
    let first = value.split(',').next()?.trim();
    if first.len() > 64 {
        return None;
    }
    first
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The client address: `CF-Connecting-IP`, or, only where `trust_forwarded` (local dev
/// and tests), the first address of `X-Forwarded-For` when it has one.
pub fn client_ip(
    connecting_ip: Option<&str>,
    forwarded_for: Option<&str>,
    trust_forwarded: bool,
) -> Option<IpAddr> {
    let forwarded = forwarded_for
        .filter(|_| trust_forwarded)
        .and_then(parse_forwarded_for);
    forwarded.or_else(|| connecting_ip.and_then(parse_connecting_ip))
}

/// A `CF-Connecting-IP` value.
pub fn parse_connecting_ip(value: &str) -> Option<IpAddr> {
    let value = value.trim();
    (value.len() <= 64).then(|| value.parse().ok()).flatten()
}

/// Whether a string is a visitor id as the router mints them: 32 lower-case hex digits.
pub fn is_visitor_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The visitor id of a `Cookie` header, if present and well formed.
pub fn visitor_id_from_cookies(header: &str) -> Option<&str> {
    if header.len() > MAX_HEADER_LEN {
        return None;
    }
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| is_visitor_id(v))
}

/// The `Set-Cookie` value for a new visitor id: first-party, one year, `Secure`,
/// `HttpOnly`, `SameSite=Lax`.
pub fn set_cookie(visitor_id: &str) -> String {
    format!(
        "{COOKIE}={visitor_id}; Max-Age={COOKIE_MAX_AGE}; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for() {
        assert_eq!(
            parse_forwarded_for("49.36.0.1, 10.0.0.1"),
            Some("49.36.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_forwarded_for(" [2001:db8::1] "),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_forwarded_for("unknown"), None);
        assert_eq!(parse_forwarded_for(""), None);
        assert_eq!(parse_forwarded_for(&"1".repeat(100)), None);
        assert_eq!(
            parse_forwarded_for(&format!("1.2.3.4,{}", "x".repeat(MAX_HEADER_LEN))),
            None
        );
        assert_eq!(
            parse_connecting_ip(" 8.8.8.8 "),
            Some("8.8.8.8".parse().unwrap())
        );
        assert_eq!(parse_connecting_ip("8.8.8.8, 1.1.1.1"), None);
    }

    #[test]
    fn cookies() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            visitor_id_from_cookies(&format!("a=b; gh_vid={id}; c=d")),
            Some(id)
        );
        assert_eq!(
            visitor_id_from_cookies("gh_vid=0123456789ABCDEF0123456789ABCDEF"),
            None,
            "upper case is not minted"
        );
        assert_eq!(visitor_id_from_cookies("gh_vid=short"), None);
        assert_eq!(
            visitor_id_from_cookies("xgh_vid=0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(visitor_id_from_cookies(""), None);
        let cookie = set_cookie(id);
        for flag in [
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=31536000",
        ] {
            assert!(cookie.contains(flag), "{cookie}");
        }
    }
}
