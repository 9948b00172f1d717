//! The state snapshot: the opaque sections the live pipeline hands over at each
//! commit (positions, detector state, deduplication memory, undelivered outbox
//! entries), in one versioned, compressed blob whose SHA-256 the manifest records.
//!
//! Layout: `KVWS`, a u16 version (big-endian, now 1), then gzip of the sections,
//! each a u8 tag, a u64 length (big-endian) and the bytes. The version is readable
//! without decompressing, so a later format can change everything after it. A
//! snapshot that does not check out (wrong hash, unknown version, unknown section,
//! truncated, larger than the limit) is an error that names the blob: a standby
//! must never resume from state it cannot trust, and nothing is overwritten.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// The format name recorded in the manifest and the blob's metadata.
pub const SNAPSHOT_FORMAT: &str = "kvwatch-state/1";
const MAGIC: &[u8; 4] = b"KVWS";
const VERSION: u16 = 1;

/// The sections of a snapshot: opaque bytes, each owned by the part that wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections {
    /// Partition positions and replay cuts, with the checkpoint's watermark.
    pub positions: Vec<u8>,
    /// The detectors' state.
    pub detectors: Vec<u8>,
    /// The deduplication memory.
    pub dedup: Vec<u8>,
    /// Outbox entries not yet delivered at commit time (re-enqueued by the next
    /// owner; receivers drop repeats by alert id).
    pub outbox: Vec<u8>,
}

impl Sections {
    /// The bytes of every section together.
    pub fn len(&self) -> usize {
        self.positions.len() + self.detectors.len() + self.dedup.len() + self.outbox.len()
    }

    /// No bytes in any section.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn tagged(&self) -> [(u8, &Vec<u8>); 4] {
        [
            (1, &self.positions),
            (2, &self.detectors),
            (3, &self.dedup),
            (4, &self.outbox),
        ]
    }
}

/// Why a snapshot cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a kvwatch snapshot at all.
    #[error("snapshot {blob}: not a kvwatch state snapshot (no KVWS header)")]
    NotASnapshot {
        /// The blob.
        blob: String,
    },
    /// Written by a kvwatch that knows a newer format.
    #[error("snapshot {blob}: format version {version} is unknown to this kvwatch (it reads version {VERSION}); upgrade kvwatch")]
    UnknownVersion {
        /// The blob.
        blob: String,
        /// The version found.
        version: u16,
    },
    /// The bytes are not the ones the manifest committed.
    #[error("snapshot {blob}: SHA-256 {found} does not match the manifest's {expected}; it was changed or damaged")]
    HashMismatch {
        /// The blob.
        blob: String,
        /// What the manifest says.
        expected: String,
        /// What the bytes hash to.
        found: String,
    },
    /// The content is damaged.
    #[error("snapshot {blob}: damaged: {message}")]
    Corrupt {
        /// The blob.
        blob: String,
        /// What is wrong.
        message: String,
    },
    /// Larger than `max_snapshot_bytes`.
    #[error(
        "snapshot {blob}: larger than the limit of {limit} bytes (coordination.max_snapshot_bytes)"
    )]
    TooLarge {
        /// The blob.
        blob: String,
        /// The limit.
        limit: u64,
    },
}

/// The hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Encodes the sections; `blob` names it in errors.
pub fn encode(sections: &Sections, blob: &str, limit: u64) -> Result<Vec<u8>, SnapshotError> {
    let too_large = || SnapshotError::TooLarge {
        blob: blob.to_owned(),
        limit,
    };
    if sections.len() as u64 > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(sections.len() / 4 + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    let mut gz = GzEncoder::new(out, flate2::Compression::fast());
    let io = |e: std::io::Error| SnapshotError::Corrupt {
        blob: blob.to_owned(),
        message: format!("cannot compress: {e}"),
    };
    for (tag, bytes) in sections.tagged() {
        gz.write_all(&[tag]).map_err(io)?;
        gz.write_all(&(bytes.len() as u64).to_be_bytes())
            .map_err(io)?;
        gz.write_all(bytes).map_err(io)?;
    }
    let out = gz.finish().map_err(io)?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// Checks and decodes a snapshot: the hash first (when the manifest gives one),
/// then the header, then the sections.
pub fn decode(
    bytes: &[u8],
    blob: &str,
    expected_sha256: Option<&str>,
    limit: u64,
) -> Result<Sections, SnapshotError> {
    let corrupt = |message: String| SnapshotError::Corrupt {
        blob: blob.to_owned(),
        message,
    };
    if let Some(expected) = expected_sha256 {
        let found = sha256_hex(bytes);
        if !found.eq_ignore_ascii_case(expected) {
            return Err(SnapshotError::HashMismatch {
                blob: blob.to_owned(),
                expected: expected.to_owned(),
                found,
            });
        }
    }
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        return Err(SnapshotError::NotASnapshot {
            blob: blob.to_owned(),
        });
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(SnapshotError::UnknownVersion {
            blob: blob.to_owned(),
            version,
        });
    }
    let mut payload = Vec::new();
    GzDecoder::new(&bytes[6..])
        .take(limit.saturating_add(1))
        .read_to_end(&mut payload)
        .map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
    if payload.len() as u64 > limit {
        return Err(SnapshotError::TooLarge {
            blob: blob.to_owned(),
            limit,
        });
    }
    let mut sections = Sections::default();
    let mut seen = [false; 5];
    let mut rest = payload.as_slice();
    while !rest.is_empty() {
        if rest.len() < 9 {
            return Err(corrupt("a section header is cut short".into()));
        }
        let tag = rest[0];
        let mut len = [0u8; 8];
        len.copy_from_slice(&rest[1..9]);
        let len = u64::from_be_bytes(len);
        rest = &rest[9..];
        if len > rest.len() as u64 {
            return Err(corrupt(format!("section {tag} is cut short")));
        }
        let (body, after) = rest.split_at(len as usize);
        rest = after;
        let slot = match tag {
            1 => &mut sections.positions,
            2 => &mut sections.detectors,
            3 => &mut sections.dedup,
            4 => &mut sections.outbox,
            other => return Err(corrupt(format!("unknown section {other}"))),
        };
        if std::mem::replace(&mut seen[usize::from(tag)], true) {
            return Err(corrupt(format!("section {tag} appears twice")));
        }
        *slot = body.to_vec();
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sections {
        Sections {
            positions: b"{\"p\":1}".to_vec(),
            detectors: vec![7; 10_000],
            dedup: Vec::new(),
            outbox: b"alert".to_vec(),
        }
    }

    #[test]
    fn round_trip_compresses_and_checks_the_hash() {
        let bytes = encode(&sample(), "b", 1 << 20).unwrap();
        assert!(bytes.len() < 1000, "{}", bytes.len());
        let hash = sha256_hex(&bytes);
        assert_eq!(decode(&bytes, "b", Some(&hash), 1 << 20).unwrap(), sample());
        assert_eq!(
            decode(
                &encode(&Sections::default(), "b", 1 << 20).unwrap(),
                "b",
                None,
                1 << 20
            )
            .unwrap(),
            Sections::default()
        );
    }

    #[test]
    fn every_damage_is_named_with_the_blob() {
        let good = encode(&sample(), "b", 1 << 20).unwrap();
        let hash = sha256_hex(&good);
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut newer = good.clone();
        newer[5] = 2;
        let table: Vec<(Vec<u8>, Option<&str>, u64, &str)> = vec![
            (flipped, Some(&hash), 1 << 20, "does not match the manifest"),
            (b"PK\x03\x04zip".to_vec(), None, 1 << 20, "no KVWS header"),
            (newer, None, 1 << 20, "format version 2 is unknown"),
            (good[..good.len() - 4].to_vec(), None, 1 << 20, "damaged"),
            (good.clone(), None, 100, "larger than the limit"),
        ];
        for (bytes, hash, limit, want) in table {
            let err = decode(&bytes, "kvwatch/g/state/x", hash, limit)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("kvwatch/g/state/x") && err.contains(want),
                "{err}"
            );
        }
        assert!(matches!(
            encode(&sample(), "b", 100),
            Err(SnapshotError::TooLarge { .. })
        ));
    }
}
