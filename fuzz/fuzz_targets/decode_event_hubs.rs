//! Event Hubs bodies (`--format event-hubs`): any bytes decode without panicking,
//! records come in input order with body indexes that never skip, and every event
//! is normalised. A live body is also decoded on its own, as the consumer does.
#![no_main]

use kvwatch::decode::envelope::decode_body;
use kvwatch::decode::Format;
use kvwatch_fuzz::{
    check_event, check_index_sequence, check_line_order, check_record, decode_checked, limits_for,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = limits_for(data);
    let seen = decode_checked(data, Format::EventHubs, &limits);
    check_line_order(&seen);
    check_index_sequence(&seen);

    // One Event Hubs event body, as the live consumer hands it over: line 1, records
    // indexed 0, 1, 2 … with the error (if any) at the index where decoding stopped.
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut next = 0u32;
    decode_body(data, 1, &mut |r| {
        check_record(data, lines, &r);
        assert_eq!(r.location.line, 1);
        assert_eq!(r.location.index, Some(next), "body records out of sequence");
        next += 1;
        if let Ok(event) = &r.result {
            check_event(event);
        }
    });
});
