//! Deterministic randomness and the identifiers Azure uses (GUIDs, versions, `uti`).
//!
//! Every actor draws from its own random stream, seeded from the simulation seed,
//! a label (the actor's name) and a number (usually the day). Streams are
//! independent, so adding a scenario or a principal never shifts anybody else's
//! traffic, and any day of any actor can be generated without replaying the days
//! before it. Scale-mode principals use the stateless [`mix`] hash instead of a
//! stream each, so a million of them cost no memory.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The simulator's random generator.
pub(crate) type SimRng = ChaCha8Rng;

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash step.
pub(crate) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes two words into one.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix(a ^ splitmix(b).rotate_left(17))
}

/// FNV-1a of a label (stable across runs and platforms).
pub(crate) fn label_hash(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The random stream of `label` number `n` under `seed`.
pub(crate) fn stream(seed: u64, label: &str, n: u64) -> SimRng {
    SimRng::seed_from_u64(mix(mix(seed, label_hash(label)), n))
}

/// A lower-case GUID (version 4 layout) from 128 random bits.
pub(crate) fn guid_from(bits: u128) -> String {
    let b = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{b:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random lower-case GUID.
pub(crate) fn guid(rng: &mut SimRng) -> String {
    guid_from(rng.random::<u128>())
}

/// A GUID that is a pure function of its inputs (scale-mode principals).
pub(crate) fn guid_of(seed: u64, label: &str, n: u64) -> String {
    let hi = mix(mix(seed, label_hash(label)), n);
    let lo = mix(hi, n ^ 0x5555);
    guid_from((u128::from(hi) << 64) | u128::from(lo))
}

/// An object version: 32 lower-case hexadecimal digits.
pub(crate) fn version(rng: &mut SimRng) -> String {
    format!("{:032x}", rng.random::<u128>())
}

/// A token's `uti` claim: 22 characters of base64url.
pub(crate) fn uti(rng: &mut SimRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22)
        .map(|_| char::from(ALPHABET[rng.random_range(0..64)]))
        .collect()
}

/// Picks from a slice (`None` only when it is empty).
pub(crate) fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.random_range(0..items.len())])
}

/// A draw from an exponential distribution with the given mean.
pub(crate) fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    -mean * u.ln()
}

/// A draw from a normal distribution (Box-Muller), clamped to `[lo, hi]`.
pub(crate) fn normal(rng: &mut SimRng, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (mean + sd * z).clamp(lo, hi)
}

/// A Poisson count with the given mean (Knuth; means here are small).
pub(crate) fn poisson(rng: &mut SimRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        return normal(rng, mean, mean.sqrt(), 0.0, mean * 4.0).round() as u32;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.random_range(0.0..1.0);
    let mut count = 0;
    while product > limit {
        product *= rng.random_range(0.0..1.0);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_look_like_guids_and_streams_are_stable() {
        let mut a = stream(42, "alice", 3);
        let mut b = stream(42, "alice", 3);
        let g = guid(&mut a);
        assert_eq!(g, guid(&mut b));
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert!(g
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(
            guid(&mut stream(42, "alice", 4)),
            guid(&mut stream(42, "alice", 3))
        );
        assert_eq!(guid_of(1, "x", 2), guid_of(1, "x", 2));
        assert_eq!(version(&mut a).len(), 32);
        assert_eq!(uti(&mut a).len(), 22);
    }

    #[test]
    fn distributions_stay_in_range() {
        let mut rng = stream(1, "d", 0);
        let mean = (0..2000).map(|_| poisson(&mut rng, 3.0)).sum::<u32>() as f64 / 2000.0;
        assert!((mean - 3.0).abs() < 0.3, "{mean}");
        assert!((0..100).all(|_| (1.0..=2.0).contains(&normal(&mut rng, 1.5, 5.0, 1.0, 2.0))));
        assert!(exponential(&mut rng, 10.0) >= 0.0);
    }
}
