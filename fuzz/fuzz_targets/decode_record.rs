//! One resource-log record (`decode_record`, the JSON Lines and stray-record path):
//! any bytes give an event or a refusal without panicking, an event is normalised,
//! and a refusal of non-UTF-8 text says `invalid_utf8`.
#![no_main]

use kvwatch::decode::{decode_record, Refusal, RejectReason};
use kvwatch_fuzz::check_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_record(data) {
        Ok(event) => {
            assert!(
                std::str::from_utf8(data).is_ok(),
                "an event from invalid UTF-8"
            );
            check_event(&event);
        }
        Err(refusal) => {
            if std::str::from_utf8(data).is_err() {
                assert_eq!(refusal, Refusal::Rejected(RejectReason::InvalidUtf8));
            }
        }
    }
});
