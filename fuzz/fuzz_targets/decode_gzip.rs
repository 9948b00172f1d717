//! Gzip inputs: any bytes given to the gzip expander either fail cleanly or expand
//! to at most the cap (then decode like any input), and a compressed input expands
//! back to itself exactly when it fits the cap and is refused as too large when it
//! does not (one byte over included), across gzip members.
#![no_main]

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use kvwatch::decode::gzip::gunzip;
use kvwatch::decode::{DecodeError, Format};
use kvwatch_fuzz::{decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;

const CAP: u64 = 256 * 1024;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

fuzz_target!(|data: &[u8]| {
    // Hostile gzip: never more than the cap.
    match gunzip(data, CAP) {
        Ok(out) => {
            assert!(out.len() as u64 <= CAP, "expanded past the cap");
            decode_checked(&out, Format::Auto, &limits_for(&out));
        }
        Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, CAP),
        // Corrupt or truncated: refused, whatever the bytes.
        Err(DecodeError::Gzip(_)) => {}
        Err(DecodeError::Bomb { .. }) => panic!("a whole-buffer expansion has no ratio to break"),
    }

    // The input compressed (as two members): the cap is exact.
    let mut packed = gz(data);
    packed.extend_from_slice(&gz(data));
    let whole = 2 * data.len() as u64;
    let cap = whole - (data.len() as u64 % 2);
    match gunzip(&packed, cap) {
        Ok(out) => {
            assert!(whole <= cap, "{whole} bytes passed a {cap}-byte cap");
            assert_eq!(out.len() as u64, whole);
            assert_eq!(&out[..data.len()], data);
            assert_eq!(&out[data.len()..], data);
        }
        Err(DecodeError::TooLarge { limit }) => {
            assert_eq!(limit, cap);
            assert!(whole > cap, "{whole} bytes refused by a {cap}-byte cap");
        }
        Err(e) => panic!("valid gzip refused: {e}"),
    }
});
