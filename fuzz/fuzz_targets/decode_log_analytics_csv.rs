//! Log Analytics CSV (`--format log-analytics-csv`): any bytes decode without
//! panicking, every data row gives exactly one record (indexed 0, 1, 2 … in input
//! order) and every event is normalised.
#![no_main]

use kvwatch::decode::Format;
use kvwatch_fuzz::{check_line_order, decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let seen = decode_checked(data, Format::LogAnalyticsCsv, &limits_for(data));
    check_line_order(&seen);
    let rows = seen.iter().filter(|s| s.location.index.is_some());
    for (n, s) in rows.enumerate() {
        assert_eq!(
            s.location.index,
            Some(n as u32),
            "a CSV row was skipped or repeated: {seen:?}"
        );
    }
    // Only an unreadable header is reported without a row index, and nothing follows it.
    if let Some(pos) = seen.iter().position(|s| s.location.index.is_none()) {
        assert_eq!(
            seen.len(),
            1,
            "records after an unreadable header: {seen:?}"
        );
        assert_eq!(pos, 0);
    }
});
