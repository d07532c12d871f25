//! Request headers the router parses: Accept-Language, X-Forwarded-For,
//! CF-Connecting-IP, Cookie, and the User-Agent classification after parsing.

use edge_router::engine::lang::{is_language_tag, preferred_language};
use edge_router::visit::headers::{
    is_visitor_id, parse_connecting_ip, parse_forwarded_for, visitor_id_from_cookies,
};
use edge_router::visit::user_agent::{classify, DeviceHeaders};

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(lang) = preferred_language(&text) {
        assert!(is_language_tag(&lang));
    }
    let _ = parse_forwarded_for(&text);
    let _ = parse_connecting_ip(&text);
    if let Some(id) = visitor_id_from_cookies(&text) {
        assert!(is_visitor_id(id));
    }
    let (ua, hints) = text.split_once('\n').unwrap_or((&text, ""));
    let mut hint = hints.split('\n');
    let _ = classify(DeviceHeaders {
        user_agent: Some(ua),
        ch_mobile: hint.next(),
        ch_platform: hint.next(),
    });
}
