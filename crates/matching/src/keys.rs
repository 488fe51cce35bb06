//! Stable 64-bit keys for blocking and frequency counts, and the pass-through hasher the index
//! uses for them (they are already well mixed, hashing them again would only cost time).

use std::hash::{BuildHasherDefault, Hasher};

/// Builds a key from a tag (which kind of key) and string parts. FNV-1a with a final mix; stable
/// across runs and platforms, unlike `std`'s randomly seeded hasher.
pub fn key(tag: u8, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h)
}

/// A key over a number (a phone number's digits).
pub fn key_u64(tag: u8, n: u64) -> u64 {
    mix(n ^ (u64::from(tag) << 56) ^ 0x9e37_79b9_7f4a_7c15)
}

/// SplitMix64's finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hasher for maps keyed by `key()` values.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = mix(self.0);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type KeyBuild = BuildHasherDefault<KeyHasher>;
pub type KeyMap<V> = std::collections::HashMap<u64, V, KeyBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_separate_parts() {
        assert_eq!(key(b'E', &["a@b.co"]), key(b'E', &["a@b.co"]));
        assert_ne!(key(b'E', &["ab", "c"]), key(b'E', &["a", "bc"]));
        assert_ne!(key(b'E', &["x"]), key(b'U', &["x"]));
        assert_ne!(key_u64(b'P', 1), key_u64(b'Q', 1));
    }
}
