//! JSON Lines (`--format json-lines`): any bytes decode without panicking, every
//! record points inside its input, every event is normalised, and, with the input
//! planted between two valid records, every line is accounted for.
#![no_main]

use kvwatch::decode::Format;
use kvwatch_fuzz::{check_json_lines_accounting, decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = limits_for(data);
    decode_checked(data, Format::JsonLines, &limits);
    check_json_lines_accounting(data, &limits);
});
