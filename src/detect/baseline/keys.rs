//! Compact keys for baselines: GUIDs as `u128`, names as 64-bit hashes, times as
//! `u32` seconds, and a hasher that does not re-hash keys that are already random.
//!
//! Baselines are kept for every principal a tenant has, so their keys must be small:
//! an object id parsed into a `u128` is 16 bytes instead of a 36-character string on
//! the heap. Keys that are not GUIDs (test identities, odd claims) are hashed into
//! the same space with XXH3-128, where collisions are not a practical concern.

use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// A principal key (lower-case object id or app id) as a `u128`.
pub fn principal_key(key: &str) -> u128 {
    parse_guid(key).unwrap_or_else(|| xxh3_128(key.as_bytes()))
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (any case) into a `u128`.
pub fn parse_guid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// A 64-bit hash of a name (vault, object, user agent, network).
pub fn hash64(s: &[u8]) -> u64 {
    xxh3_64(s)
}

/// The key of a vault name (already lower case).
pub fn vault_key(name: &str) -> u64 {
    hash64(name.as_bytes())
}

/// Event time as whole seconds since 1970, saturating into `u32` (good to 2106).
pub fn secs(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(0, i64::from(u32::MAX)) as u32
}

/// The inverse of [`secs`].
pub fn time_of(s: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(s), 0).unwrap_or_default()
}

/// A hasher for keys that are already uniformly distributed (GUIDs, XXH3 hashes):
/// it folds the bits instead of running SipHash on every lookup.
#[derive(Default, Clone, Copy)]
pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        // A final multiply spreads folded bits into the high bits hashbrown uses.
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64 ^ (n >> 64) as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A `HashMap` keyed by already-random keys.
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FoldHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_parse_and_others_hash() {
        let a = principal_key("30a6c29d-0000-4000-8000-00000000000a");
        assert_eq!(a, 0x30a6c29d_0000_4000_8000_00000000000a);
        assert_eq!(principal_key("30A6C29D-0000-4000-8000-00000000000A"), a);
        assert_ne!(principal_key("alice"), principal_key("bob"));
        assert_eq!(parse_guid("30a6c29d-0000-4000-8000-00000000000"), None);
        assert_eq!(parse_guid("30a6c29dx0000-4000-8000-00000000000a"), None);
        assert_eq!(
            time_of(secs(time_of(1_700_000_000))).timestamp(),
            1_700_000_000
        );
    }
}
