//! Gzip inputs (`.gz` of any shape), expanded with a hard cap against bombs.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::DecodeError;

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
    fn corrupt_data_is_an_error() {
        let mut packed = gz(b"hello world, hello world");
        let n = packed.len();
        packed[n / 2] ^= 0xff;
        packed.truncate(n - 4);
        assert!(gunzip(&packed, 1000).is_err());
    }
}
