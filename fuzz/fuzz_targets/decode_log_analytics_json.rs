//! Log Analytics JSON (`--format log-analytics-json`: rows as lines or arrays,
//! `{"tables":…}` and `{"value":…}` responses): any bytes decode without panicking,
//! every record points inside its input and every event is normalised.
#![no_main]

use kvwatch::decode::Format;
use kvwatch_fuzz::{decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    decode_checked(data, Format::LogAnalyticsJson, &limits_for(data));
});
