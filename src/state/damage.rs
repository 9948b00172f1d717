//! Test support: the ways a redb file is found damaged on a bad day (a full disk, a
//! copy cut short, a bad block, an operator's `> file`), applied to a healthy file,
//! so the state store and the outbox can both show that each one becomes an error
//! naming the file, never a panic.

use std::path::Path;

/// One way to damage a file: a name for messages and what it does to the bytes.
pub struct Damage {
    /// What happened, for assertion messages.
    pub name: &'static str,
    /// Applies the damage to the file's bytes.
    pub apply: fn(&mut Vec<u8>),
    /// Whether the file can no longer be opened at all (else the damage may land in
    /// a part redb never reads, and opening it may succeed).
    pub fatal: bool,
}

/// A deterministic byte stream (xorshift), so a failure is reproducible.
fn noise(seed: u64, out: &mut [u8]) {
    let mut x = seed | 1;
    for b in out {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// The damages every store must survive.
pub fn table() -> Vec<Damage> {
    vec![
        Damage {
            name: "emptied (0 bytes)",
            apply: |b| b.clear(),
            fatal: true,
        },
        Damage {
            name: "cut to its first byte",
            apply: |b| b.truncate(1),
            fatal: true,
        },
        Damage {
            name: "cut inside the header",
            apply: |b| b.truncate(200),
            fatal: true,
        },
        Damage {
            name: "cut after the header page",
            apply: |b| b.truncate(4096),
            fatal: true,
        },
        Damage {
            name: "cut in half",
            apply: |b| {
                let half = b.len() / 2;
                b.truncate(half);
            },
            fatal: true,
        },
        Damage {
            name: "magic number overwritten",
            apply: |b| b[..9].copy_from_slice(b"not-redb!"),
            fatal: true,
        },
        Damage {
            name: "header layout fields scrambled",
            apply: |b| noise(7, &mut b[9..64]),
            fatal: false,
        },
        Damage {
            name: "both commit slots scrambled",
            apply: |b| noise(11, &mut b[64..320]),
            fatal: false,
        },
        Damage {
            name: "region header page scrambled",
            apply: |b| {
                let end = b.len().min(8192);
                noise(13, &mut b[4096..end]);
            },
            fatal: false,
        },
        Damage {
            name: "every page's first 64 bytes scrambled",
            apply: |b| {
                let len = b.len();
                for (i, start) in (4096..len).step_by(4096).enumerate() {
                    let end = (start + 64).min(len);
                    noise(17 + i as u64, &mut b[start..end]);
                }
            },
            fatal: false,
        },
        Damage {
            name: "the whole body zeroed",
            apply: |b| {
                for x in b.iter_mut().skip(4096) {
                    *x = 0;
                }
            },
            fatal: false,
        },
    ]
}

/// Copies `healthy` to `path` with `damage` applied.
pub fn write_damaged(healthy: &[u8], damage: &Damage, path: &Path) {
    let mut bytes = healthy.to_vec();
    (damage.apply)(&mut bytes);
    std::fs::write(path, bytes).expect("write the damaged copy");
}
