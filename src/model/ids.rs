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

/// Random bytes fit to mint ids and tokens from: `None` when the platform's random source
/// failed (`random` is `None`) or gave all zeros, which a working 128-bit source does once
/// in 2^128 and a broken one (or a caller's `unwrap_or_default`) does every time. Minting
/// from such bytes would give every visitor the same id.
pub fn fresh_random<const N: usize>(random: Option<[u8; N]>) -> Option<[u8; N]> {
    random.filter(|bytes| bytes.iter().any(|b| *b != 0))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_random_refuses_a_failed_or_all_zero_source() {
        assert_eq!(fresh_random::<16>(None), None);
        assert_eq!(fresh_random(Some([0u8; 16])), None);
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(fresh_random(Some(one)), Some(one));
    }
}
