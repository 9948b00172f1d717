//! Streaming decoding is decoding: any bytes, cut into chunks of any size and read a
//! few bytes at a time (as a pipe hands them out), give the same records, at the same
//! locations and with the same outcomes, as decoding the whole input at once; and
//! every record passes the decoders' invariants.
//!
//! The first two bytes choose the chunk size (1 to 4,096 bytes) and the read size
//! (1 to 256 bytes); the rest is the input, in `Format::Auto`.
#![no_main]

use std::io::Read;

use kvwatch::decode::framing::{decode_chunk, Framer};
use kvwatch::decode::{Format, Limits};
use kvwatch_fuzz::{check_event, decode_checked, limits_for, Seen};
use libfuzzer_sys::fuzz_target;

/// Hands out at most `step` bytes a call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn streamed(input: &[u8], limits: &Limits, chunk: usize, step: usize) -> Vec<Seen> {
    let reader = Trickle { data: input, step };
    let mut framer = Framer::new(reader, Format::Auto, *limits).with_chunk_bytes(chunk);
    let mut seen = Vec::new();
    while let Some(c) = framer.next_chunk().expect("reading from memory cannot fail") {
        decode_chunk(&c, limits, &mut |r| {
            let outcome = match r.result {
                Ok(event) => {
                    check_event(&event);
                    Ok(event.vault.to_string())
                }
                Err(refusal) => Err(refusal),
            };
            seen.push(Seen {
                location: r.location,
                outcome,
            });
        });
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let [a, b, input @ ..] = data else {
        return;
    };
    let chunk = 1 + (usize::from(*a) << 4 | usize::from(*b >> 4));
    let step = 1 + usize::from(*b & 0x0f) * 16 + usize::from(*a & 0x0f);
    let limits = limits_for(input);
    let whole = decode_checked(input, Format::Auto, &limits);
    let pieces = streamed(input, &limits, chunk, step);
    assert_eq!(
        whole, pieces,
        "streamed in chunks of {chunk} bytes, read {step} at a time, the records differ"
    );
});
