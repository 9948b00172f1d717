//! The byte format of detection snapshots (`--state`, live checkpoints): the one
//! place that knows it, so a detector says *what* it saves, never *how*.
//!
//! Format 2 (this build writes it): the magic bytes [`MAGIC`], then one LZ4 frame
//! holding the baselines (postcard, streamed straight from the principal slab and
//! its chunks), the open incidents and every detector's part. Each detector part is
//! [`PART_TAG`] and postcard bytes. Postcard writes integers as varints and structs
//! as their fields in order, with no names: a principal's profile is a fraction of
//! its size in memory, where JSON (format 1) was about ten times it. LZ4 then halves
//! what repeats (timestamps, empty windows) at a speed that keeps a million
//! principals within seconds; the frame is written and read as a stream, so saving
//! never holds the encoded baselines, nor loading the decompressed ones, whole.
//!
//! Format 1 (JSON, a `{"version":1,...}` object) still loads: a snapshot that does
//! not start with [`MAGIC`] is read as format 1, and a detector part that does not
//! start with [`PART_TAG`] as JSON. JSON never starts with a zero byte, so the two
//! cannot be confused.
//!
//! Why these crates: postcard is serde's compact binary format, maintained, with
//! no unsafe code on the paths used here, and it reads the existing `Serialize`
//! derives unchanged; `lz4_flex` is a pure-Rust LZ4 (safe encoder and decoder)
//! with a streaming frame format. bincode, the other obvious choice, is no longer
//! maintained (RUSTSEC-2025-0141); zstd compresses more but builds C code and is
//! several times slower at these sizes.

use std::io::{BufReader, BufWriter, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first bytes of a format 2 snapshot (then the format number).
pub const MAGIC: [u8; 5] = [0, b'k', b'v', b'w', b's'];
/// The format this build writes.
pub const FORMAT: u8 = 2;
/// The first byte of a detector part in postcard (JSON parts start otherwise).
pub const PART_TAG: u8 = 0;
/// The scratch postcard needs for one text or byte string when reading a stream.
const SCRATCH: usize = 1 << 20;
/// Buffers between postcard (a byte at a time) and the LZ4 frame.
const BUFFER: usize = 256 * 1024;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a snapshot of a known format, or are damaged.
    #[error("{0}")]
    Format(String),
    /// Postcard refused the bytes.
    #[error("binary snapshot: {0}")]
    Postcard(#[from] postcard::Error),
    /// The compressed stream is damaged.
    #[error("compressed snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// A format 1 part is not valid JSON.
    #[error("JSON snapshot: {0}")]
    Json(#[from] serde_json::Error),
}

/// A detector's part: [`PART_TAG`] and postcard bytes.
pub fn encode_part<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_extend(value, vec![PART_TAG]).unwrap_or_else(|e| {
        // Only a type postcard cannot write (a sequence of unknown length) gets
        // here: a programming error, which the snapshot tests catch.
        tracing::error!("cannot encode a detector's state: {e}");
        Vec::new()
    })
}

/// A detector's part, from postcard (format 2) or JSON (format 1).
pub fn decode_part<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SnapshotError> {
    match bytes.split_first() {
        Some((&PART_TAG, rest)) => Ok(postcard::from_bytes(rest)?),
        _ => Ok(serde_json::from_slice(bytes)?),
    }
}

/// Whether `bytes` are a format 2 snapshot.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Writes a format 2 snapshot: `write` fills the compressed stream.
pub fn write_snapshot(
    write: impl FnOnce(&mut Writer) -> Result<(), SnapshotError>,
) -> Result<Vec<u8>, SnapshotError> {
    let mut head = MAGIC.to_vec();
    head.push(FORMAT);
    let frame = lz4_flex::frame::FrameEncoder::new(head);
    let mut writer = Writer {
        out: BufWriter::with_capacity(BUFFER, frame),
    };
    write(&mut writer)?;
    let frame = writer
        .out
        .into_inner()
        .map_err(|e| SnapshotError::Io(e.into_error()))?;
    frame
        .finish()
        .map_err(|e| SnapshotError::Format(e.to_string()))
}

/// Reads a format 2 snapshot: `read` takes from the decompressed stream.
pub fn read_snapshot<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, SnapshotError>,
) -> Result<T, SnapshotError> {
    read_snapshot_from(bytes, read)
}

/// As [`read_snapshot`], from any reader (a [`Draining`] buffer gives its memory
/// back as the stream moves on).
pub fn read_snapshot_from<'a, T>(
    mut input: impl Read + 'a,
    read: impl FnOnce(&mut Reader<'a>) -> Result<T, SnapshotError>,
) -> Result<T, SnapshotError> {
    let mut head = [0u8; MAGIC.len() + 1];
    input
        .read_exact(&mut head)
        .map_err(|_| SnapshotError::Format("not a kvwatch snapshot (cut short)".to_owned()))?;
    if head[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::Format("not a kvwatch snapshot".to_owned()));
    }
    let format = head[MAGIC.len()];
    if format != FORMAT {
        return Err(SnapshotError::Format(format!(
            "snapshot format {format}, this build reads 1 and {FORMAT}"
        )));
    }
    let frame: Box<dyn Read + 'a> = Box::new(input);
    let mut reader = Reader {
        input: BufReader::with_capacity(BUFFER, lz4_flex::frame::FrameDecoder::new(frame)),
        scratch: vec![0; SCRATCH],
    };
    read(&mut reader)
}

/// Reads an owned buffer from the front, giving memory back every
/// [`DRAIN_STEP`] bytes: what was read is cut off the front and the allocation
/// shrunk (for a large buffer the allocator returns the tail's pages).
pub struct Draining {
    buf: Vec<u8>,
    at: usize,
}

/// How much is read between two give-backs.
const DRAIN_STEP: usize = 16 << 20;

impl Draining {
    /// Reads `buf` from its start.
    pub fn new(buf: Vec<u8>) -> Draining {
        Draining { buf, at: 0 }
    }
}

impl Read for Draining {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= DRAIN_STEP {
            self.buf.drain(..self.at);
            self.buf.shrink_to_fit();
            self.at = 0;
        }
        let rest = self.buf.get(self.at..).unwrap_or_default();
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// The compressed stream of a snapshot being written.
pub struct Writer {
    out: BufWriter<lz4_flex::frame::FrameEncoder<Vec<u8>>>,
}

impl Writer {
    /// Streams one value in postcard.
    pub fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SnapshotError> {
        postcard::to_io(value, &mut self.out)?;
        Ok(())
    }

    /// Writes bytes with their length.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.out.write_all(&(bytes.len() as u64).to_le_bytes())?;
        self.out.write_all(bytes)?;
        Ok(())
    }
}

/// The decompressed stream of a snapshot being read.
pub struct Reader<'a> {
    input: BufReader<lz4_flex::frame::FrameDecoder<Box<dyn Read + 'a>>>,
    scratch: Vec<u8>,
}

impl Reader<'_> {
    /// Reads one postcard value.
    pub fn value<T: DeserializeOwned>(&mut self) -> Result<T, SnapshotError> {
        let (value, _) = postcard::from_io((&mut self.input, &mut self.scratch[..]))?;
        Ok(value)
    }

    /// Reads a detector's part written by [`Writer::bytes`] of [`encode_part`]
    /// straight from the stream into `T`, without holding the part's bytes first
    /// (JSON parts of format 1 are read whole, as [`decode_part`] reads them).
    pub fn part<T: DeserializeOwned>(&mut self) -> Result<T, SnapshotError> {
        let mut len = [0u8; 8];
        self.input.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        let mut tag = [0u8; 1];
        if len == 0 {
            return Err(SnapshotError::Format("an empty part".to_owned()));
        }
        self.input.read_exact(&mut tag)?;
        let mut rest = (&mut self.input).take(len - 1);
        if tag[0] != PART_TAG {
            let mut json = tag.to_vec();
            rest.read_to_end(&mut json)?;
            return Ok(serde_json::from_slice(&json)?);
        }
        let (value, _) = postcard::from_io((&mut rest, &mut self.scratch[..]))?;
        if rest.limit() != 0 {
            return Err(SnapshotError::Format(format!(
                "a part has {} bytes after its value",
                rest.limit()
            )));
        }
        Ok(value)
    }

    /// Reads bytes written by [`Writer::bytes`].
    pub fn bytes(&mut self) -> Result<Vec<u8>, SnapshotError> {
        let mut len = [0u8; 8];
        self.input.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        let mut out = Vec::new();
        // Never trust a length to allocate: read what is there, up to it.
        (&mut self.input).take(len).read_to_end(&mut out)?;
        if out.len() as u64 != len {
            return Err(SnapshotError::Format("a part is cut short".to_owned()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_in_both_formats() {
        let value: Vec<(u128, String, u32)> = vec![(u128::MAX, "s1".into(), 7)];
        let binary = encode_part(&value);
        assert_eq!(binary[0], PART_TAG);
        assert_eq!(
            decode_part::<Vec<(u128, String, u32)>>(&binary).unwrap(),
            value
        );
        let json = br#"[[340282366920938463463374607431768211455,"s1",7]]"#;
        assert_eq!(
            decode_part::<Vec<(u128, String, u32)>>(json).unwrap(),
            value
        );
    }

    #[test]
    fn a_snapshot_streams_values_and_bytes_and_refuses_damage() {
        let bytes = write_snapshot(|w| {
            w.value(&(1u32, "a".to_owned()))?;
            w.bytes(&[9; 100_000])?;
            w.value(&vec![3u64; 10])
        })
        .unwrap();
        assert!(is_binary(&bytes));
        assert!(bytes.len() < 2_000, "compressed: {}", bytes.len());
        let (a, b, c) = read_snapshot(&bytes, |r| {
            Ok((
                r.value::<(u32, String)>()?,
                r.bytes()?,
                r.value::<Vec<u64>>()?,
            ))
        })
        .unwrap();
        assert_eq!((a, b.len(), c), ((1, "a".to_owned()), 100_000, vec![3; 10]));
        let cut = &bytes[..bytes.len() - 10];
        assert!(
            read_snapshot(cut, |r| r.value::<(u32, String)>().and_then(|_| r.bytes())).is_err()
        );
        let mut other = bytes.clone();
        other[MAGIC.len()] = 9;
        #[allow(clippy::redundant_closure_for_method_calls)]
        // the closure's lifetime is higher-ranked
        let read = |r: &mut super::Reader<'_>| r.value::<u32>();
        assert!(read_snapshot(&other, read).is_err());
    }
}
