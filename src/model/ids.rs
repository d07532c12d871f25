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
    // Digit by digit, not `write!("{b:02x}")`: the formatter is most of a visit's cost of
    // minting its request id in wasm.
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
    out
}

/// Random bytes fetched in bulk and handed out once each: one call to the platform's
/// random source (`fill`) per [`RandomPool::BYTES`] instead of one per id. Bytes are wiped
/// from the pool as they are taken; a failed fill hands out nothing and keeps nothing.
#[derive(Debug)]
pub struct RandomPool {
    bytes: [u8; RandomPool::BYTES],
    /// The bytes not handed out yet are `bytes[next..]`.
    next: usize,
}

impl Default for RandomPool {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomPool {
    /// Bytes one fill asks for (`crypto.getRandomValues` takes up to 65,536 per call).
    pub const BYTES: usize = 4096;

    /// An empty pool: the first take fills it.
    pub const fn new() -> Self {
        RandomPool {
            bytes: [0; Self::BYTES],
            next: Self::BYTES,
        }
    }

    /// `N` bytes (at most [`RandomPool::BYTES`]), filling the pool from `fill` when it
    /// holds fewer.
    ///
    /// # Errors
    /// What `fill` failed with (the pool is then empty), or nothing for an `N` larger
    /// than the pool (never filled: ask the source directly).
    pub fn take<const N: usize, E>(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<[u8; N], Option<E>> {
        if N > Self::BYTES {
            return Err(None);
        }
        if Self::BYTES - self.next < N {
            self.bytes.fill(0);
            self.next = Self::BYTES;
            fill(&mut self.bytes).map_err(Some)?;
            self.next = 0;
        }
        let mut out = [0u8; N];
        let taken = self.bytes.get_mut(self.next..self.next + N).ok_or(None)?;
        out.copy_from_slice(taken);
        taken.fill(0);
        self.next += N;
        Ok(out)
    }
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

    #[test]
    fn the_random_pool_hands_each_byte_out_once_and_refills_when_short() {
        let fills = std::cell::Cell::new(0u8);
        let fill = |buf: &mut [u8]| -> Result<(), ()> {
            fills.set(fills.get() + 1);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i % 251) as u8 ^ fills.get();
            }
            Ok(())
        };
        let mut pool = RandomPool::new();
        let mut seen = Vec::new();
        for _ in 0..RandomPool::BYTES / 16 {
            let bytes: [u8; 16] = pool.take(fill).unwrap();
            seen.extend_from_slice(&bytes);
        }
        assert_eq!(fills.get(), 1, "one fill serves a pool's worth");
        let expected: Vec<u8> = (0..RandomPool::BYTES)
            .map(|i| (i % 251) as u8 ^ 1)
            .collect();
        assert_eq!(seen, expected, "every byte once, in order");
        assert!(pool.bytes.iter().all(|b| *b == 0), "taken bytes are wiped");
        let next: [u8; 16] = pool.take(fill).unwrap();
        assert_eq!(
            (fills.get(), next[0]),
            (2, 2),
            "an empty pool is filled again"
        );
        // Not enough left for 32: the rest is dropped, the pool filled again.
        let mut pool = RandomPool::new();
        let _: [u8; 4090] = pool.take(fill).unwrap();
        let tail: [u8; 32] = pool.take(fill).unwrap();
        assert_eq!((fills.get(), tail[0]), (4, 4));
    }

    #[test]
    fn a_failed_fill_hands_out_nothing_and_keeps_nothing() {
        let mut pool = RandomPool::new();
        let _: [u8; 16] = pool
            .take(|b: &mut [u8]| -> Result<(), ()> {
                b.fill(7);
                Ok(())
            })
            .unwrap();
        // Short of 4,090 bytes: the refill fails, and the 4,080 left are dropped too.
        let failed = pool.take::<4090, &str>(|_| Err("no entropy"));
        assert_eq!(failed, Err(Some("no entropy")));
        assert!(pool.bytes.iter().all(|b| *b == 0));
        let again = pool.take::<16, &str>(|_| Err("still none"));
        assert_eq!(again, Err(Some("still none")), "nothing left to hand out");
        assert_eq!(
            pool.take::<{ RandomPool::BYTES + 1 }, ()>(|_| Ok(())),
            Err(None)
        );
    }

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0x10, 0xa5, 0xff]), "000f10a5ff");
        assert_eq!(hex(&[]), "");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
    }
}
