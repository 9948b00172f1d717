//! Gzip inputs (`.gz` of any shape, including the multi-member files concatenated
//! exports make), expanded as they are read, with a cap against bombs.
//!
//! A replay streams its inputs, so a gzip input is never expanded whole:
//! [`GuardedGzip`] expands it a buffer at a time and refuses it as soon as its output
//! outgrows the compressed bytes read so far by more than the allowed ratio (a bomb
//! of zeros expands about 1000 times; real logs 5 to 30 times). [`gunzip`] expands a
//! whole buffer, capped in bytes, for callers that hold one.

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder as MultiGzBufDecoder;
use flate2::read::MultiGzDecoder;

use super::DecodeError;

/// The default `pipeline.max_expansion_ratio`.
pub const DEFAULT_MAX_EXPANSION_RATIO: u64 = 200;

/// Output allowed before the ratio applies, so a tiny input that compresses well
/// (a few repeated records) is never refused.
const RATIO_GRACE_BYTES: u64 = 16 * 1024 * 1024;

/// A gzip stream expanded on the fly, refused once it expands past the ratio.
pub struct GuardedGzip<R: BufRead> {
    inner: MultiGzBufDecoder<Counted<R>>,
    consumed: Arc<AtomicU64>,
    produced: u64,
    ratio: u64,
}

impl<R: BufRead> GuardedGzip<R> {
    /// Expands `reader` (positioned at the gzip magic), allowing at most `ratio`
    /// bytes out per compressed byte in (after the first 16 MiB).
    pub fn new(reader: R, ratio: u64) -> Self {
        let consumed = Arc::new(AtomicU64::new(0));
        GuardedGzip {
            inner: MultiGzBufDecoder::new(Counted {
                inner: reader,
                consumed: consumed.clone(),
            }),
            consumed,
            produced: 0,
            ratio: ratio.max(1),
        }
    }
}

impl<R: BufRead> Read for GuardedGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let consumed = self.consumed.load(Ordering::Relaxed).max(1);
        if self.produced > RATIO_GRACE_BYTES && self.produced / consumed > self.ratio {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                DecodeError::Bomb { ratio: self.ratio },
            ));
        }
        Ok(n)
    }
}

/// A buffered reader that counts the bytes its consumer takes.
struct Counted<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.consumed.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt);
    }
}

/// Whether the bytes start with the gzip magic number.
pub fn is_gzip(buf: &[u8]) -> bool {
    buf.starts_with(&[0x1f, 0x8b])
}

/// Expands a gzip stream (all members), failing past `limit` bytes of output.
pub fn gunzip(buf: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(buf.len().saturating_mul(4).min(64 * 1024 * 1024));
    let mut reader = MultiGzDecoder::new(buf).take(limit.saturating_add(1));
    reader.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn expands_within_the_limit() {
        let packed = gz(b"hello\n");
        assert!(is_gzip(&packed));
        assert_eq!(gunzip(&packed, 100).unwrap(), b"hello\n");
    }

    #[test]
    fn bombs_are_capped() {
        let packed = gz(&vec![b'a'; 1_000_000]);
        assert!(packed.len() < 10_000);
        assert!(matches!(
            gunzip(&packed, 1000),
            Err(DecodeError::TooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn streamed_bombs_are_refused_by_ratio_and_members_are_joined() {
        // Two members, as `cat a.gz b.gz` makes: both expanded.
        let mut two = gz(b"first\n");
        two.extend(gz(b"second\n"));
        let mut out = String::new();
        GuardedGzip::new(&two[..], 10)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "first\nsecond\n");
        // 64 MiB of zeros packs into about 64 KiB: refused after the grace, reading
        // a small buffer at a time.
        let packed = gz(&vec![0u8; 64 * 1024 * 1024]);
        let mut reader = GuardedGzip::new(&packed[..], DEFAULT_MAX_EXPANSION_RATIO);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let err = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("the bomb was expanded to the end ({total} bytes)"),
                Ok(n) => total += n as u64,
                Err(e) => break e,
            }
        };
        assert!(total <= RATIO_GRACE_BYTES + buf.len() as u64, "{total}");
        assert!(err.to_string().contains("max_expansion_ratio"), "{err}");
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut packed = gz(b"hello world, hello world");
        let n = packed.len();
        packed[n / 2] ^= 0xff;
        packed.truncate(n - 4);
        assert!(gunzip(&packed, 1000).is_err());
    }
}
