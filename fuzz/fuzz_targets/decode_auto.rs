//! Format detection (`--format auto`, the default): any bytes are given to some
//! decoder without panicking, and what it reports satisfies the record and event
//! invariants.
#![no_main]

use kvwatch::decode::Format;
use kvwatch_fuzz::{decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    decode_checked(data, Format::Auto, &limits_for(data));
});
