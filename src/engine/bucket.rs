//! Deterministic A/B bucketing with GrowthBook's published hash, version 2, so any tool
//! that implements it reproduces our assignments:
//!
//! ```text
//! n      = fnv1a32(str(fnv1a32(seed + visitor_id))) % 10000
//! bucket = n / 10000                       in [0, 1)
//! ```
//!
//! where `fnv1a32` is 32-bit FNV-1a over UTF-8 bytes (offset `0x811c9dc5`, prime
//! `0x01000193`) and `str(x)` is the decimal form. Variants take consecutive ranges of the
//! unit interval in declaration order, each as wide as its weight (weights sum to 100):
//! with weights 50/50 the first variant gets buckets `[0, 0.5)`, the second `[0.5, 1)`.
//! FNV-1a is written out because it is four lines; the constants are pinned by tests.

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// 32-bit FNV-1a of a byte string.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// The hash-v2 bucket number in `0..10000` for a seed and visitor id.
pub fn bucket_number(seed: &str, visitor_id: &str) -> u32 {
    let mut first = fnv1a32(seed.as_bytes());
    for b in visitor_id.as_bytes() {
        first = (first ^ u32::from(*b)).wrapping_mul(FNV_PRIME);
    }
    fnv1a32(first.to_string().as_bytes()) % 10_000
}

/// The hash-v2 bucket in `[0, 1)` (GrowthBook's `hash(seed, value, 2)`).
pub fn bucket(seed: &str, visitor_id: &str) -> f64 {
    f64::from(bucket_number(seed, visitor_id)) / 10_000.0
}

/// Picks the variant index for a bucket number given integer percentage weights laid out
/// as consecutive ranges. Returns `None` only when the weights cover less than the bucket
/// (never for weights summing to 100, which compile guarantees).
pub fn choose(bucket_number: u32, weights: impl IntoIterator<Item = u8>) -> Option<usize> {
    let mut end: u32 = 0;
    for (index, weight) in weights.into_iter().enumerate() {
        end += u32::from(weight) * 100;
        if bucket_number < end {
            return Some(index);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_reference_values() {
        // Reference values of 32-bit FNV-1a (Fowler/Noll/Vo test suite).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn seed_and_id_are_hashed_as_one_string() {
        for (seed, id) in [
            ("", "a"),
            ("diwali-ab", "0123456789abcdef0123456789abcdef"),
            ("x", ""),
        ] {
            let joined = format!("{seed}{id}");
            let expected = fnv1a32(fnv1a32(joined.as_bytes()).to_string().as_bytes()) % 10_000;
            assert_eq!(bucket_number(seed, id), expected);
        }
    }

    #[test]
    fn choose_lays_out_consecutive_ranges() {
        assert_eq!(choose(0, [50, 50]), Some(0));
        assert_eq!(choose(4_999, [50, 50]), Some(0));
        assert_eq!(choose(5_000, [50, 50]), Some(1));
        assert_eq!(choose(9_999, [50, 50]), Some(1));
        assert_eq!(choose(9_999, [20, 30, 50]), Some(2));
        assert_eq!(choose(2_000, [20, 30, 50]), Some(1));
        assert_eq!(choose(0, [0, 100]), Some(1));
        assert_eq!(choose(9_999, [50, 40]), None);
    }
}
