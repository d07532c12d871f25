//! Query strings: reserved `__*` overrides are parsed and never forwarded; forwarding
//! stays within its limits.

use edge_router::visit::reserved_query::{split_query, MAX_FORWARDED_BYTES, MAX_FORWARDED_PARAMS};

/// One input: panics when a property fails.
pub(crate) fn run(data: &[u8]) {
    let pairs = url::form_urlencoded::parse(data);
    let split = split_query(pairs);
    assert!(split.forwarded.len() <= MAX_FORWARDED_PARAMS);
    let bytes: usize = split.forwarded.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(bytes <= MAX_FORWARDED_BYTES);
    assert!(split.forwarded.iter().all(|(k, _)| !k.starts_with("__")));
}
