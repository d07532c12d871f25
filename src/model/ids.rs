//! Identifier rules shared by rule files, the API and the visitor path.

/// Whether a string is a valid id for rules, campaigns, templates and variants.
pub fn is_valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    (1..=64).contains(&id.len())
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether a string is a valid handle or entry slug: lower-case letters, digits and `-`.
pub fn is_valid_slug(slug: &str) -> bool {
    let mut bytes = slug.bytes();
    (1..=63).contains(&slug.len())
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Lower-case hex of some bytes (visitor ids, request ids, hashes).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
