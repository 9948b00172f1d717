//! Upper bounds on every duration and size in the config, checked at load so that
//! nothing downstream can overflow (a retry time, a deadline, a buffer length): a
//! typo such as `backoff_max = "1000000000d"` is refused with its key named instead
//! of panicking in a delivery worker hours later.
//!
//! Each bound is far above any sensible setting and far below what the arithmetic
//! downstream can take (event times plus durations stay within chrono's range,
//! counts within `usize` products). Lower bounds and consistency checks stay with
//! each section's own validation.

use std::time::Duration;

use super::{Config, ConfigDuration};

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;
const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// A failed bound: the key and what it must be.
pub type Exceeded = (String, String);

fn duration(key: &str, value: ConfigDuration, max_secs: u64) -> Result<(), Exceeded> {
    if value.as_std() > Duration::from_secs(max_secs) {
        return Err((
            key.to_owned(),
            format!("must be at most {}", spelled(max_secs)),
        ));
    }
    Ok(())
}

/// A whole number of days, hours, minutes or seconds, as the config spells it.
fn spelled(secs: u64) -> String {
    match secs {
        s if s % DAY == 0 => format!("{}d", s / DAY),
        s if s % HOUR == 0 => format!("{}h", s / HOUR),
        s if s % MINUTE == 0 => format!("{}m", s / MINUTE),
        s => format!("{s}s"),
    }
}

fn size(key: &str, value: u64, max: u64) -> Result<(), Exceeded> {
    if value > max {
        return Err((key.to_owned(), format!("must be at most {max}")));
    }
    Ok(())
}

fn count(key: &str, value: usize, max: usize) -> Result<(), Exceeded> {
    size(key, value as u64, max as u64)
}

/// Checks every bounded key; the error names the first key out of bounds.
pub fn check(c: &Config) -> Result<(), Exceeded> {
    let p = &c.pipeline;
    duration("pipeline.dedup_window", p.dedup_window, 30 * DAY)?;
    count("pipeline.reorder_capacity", p.reorder_capacity, 100_000_000)?;
    count(
        "pipeline.max_record_bytes",
        p.max_record_bytes,
        GIB as usize,
    )?;
    size(
        "pipeline.max_expansion_ratio",
        p.max_expansion_ratio,
        1_000_000,
    )?;

    let d = &c.detectors;
    duration("detectors.idle_after", d.idle_after, 365 * DAY)?;
    duration("detectors.forget_after", d.forget_after, 3650 * DAY)?;
    count("detectors.max_principals", d.max_principals, 100_000_000)?;
    duration("incidents.gap", c.incidents.gap, 30 * DAY)?;

    let o = &c.outbox;
    size("outbox.max_tries", u64::from(o.max_tries), 1000)?;
    duration("outbox.max_age", o.max_age, 365 * DAY)?;
    duration("outbox.attempt_timeout", o.attempt_timeout, 10 * MINUTE)?;
    duration("outbox.backoff_initial", o.backoff_initial, HOUR)?;
    duration("outbox.backoff_max", o.backoff_max, DAY)?;
    duration("outbox.drain_timeout", o.drain_timeout, DAY)?;
    count("outbox.commit_batch", o.commit_batch, 100_000)?;
    for (i, sink) in c.sinks.iter().enumerate() {
        let key = |k: &str| format!("sinks[{i}].{k}");
        if let Some(n) = sink.max_per_minute {
            size(&key("max_per_minute"), u64::from(n), 60_000)?;
        }
        if let super::SinkSettings::Email(e) = &sink.settings {
            if let Some(every) = e.digest_every {
                duration(&key("digest_every"), every, DAY)?;
            }
        }
    }

    let e = &c.eventhubs;
    duration("eventhubs.idle_after", e.idle_after, HOUR)?;
    duration("eventhubs.reconnect_initial", e.reconnect_initial, HOUR)?;
    duration("eventhubs.reconnect_max", e.reconnect_max, HOUR)?;
    duration(
        "eventhubs.operation_timeout",
        e.operation_timeout,
        10 * MINUTE,
    )?;
    duration("eventhubs.lag_interval", e.lag_interval, HOUR)?;
    count("eventhubs.queue_bodies", e.queue_bodies, 1_000_000)?;
    duration(
        "state.checkpoint_interval",
        c.state.checkpoint_interval,
        HOUR,
    )?;
    duration(
        "route.checkpoint_interval",
        c.route.checkpoint_interval,
        HOUR,
    )?;
    count(
        "route.max_records_per_body",
        c.route.max_records_per_body,
        1_000_000,
    )?;

    let r = &c.report;
    for tier in &r.rotation_tiers {
        duration("report.rotation_tiers", *tier, 3650 * DAY)?;
    }
    duration("report.expiry_notice", r.expiry_notice, 3650 * DAY)?;
    duration("report.dormant_after", r.dormant_after, 3650 * DAY)?;
    duration("report.review_min_period", r.review_min_period, 3650 * DAY)?;
    count("report.max_principals", r.max_principals, 10_000_000)?;
    count(
        "report.max_objects_per_vault",
        r.max_objects_per_vault,
        10_000_000,
    )?;
    count("report.max_items", r.max_items, 10_000)?;
    count("report.principal_sections", r.principal_sections, 10_000)?;

    let m = &c.metrics;
    count("metrics.max_connections", m.max_connections, 10_000)?;
    duration("metrics.request_timeout", m.request_timeout, 10 * MINUTE)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_within_bounds() {
        assert_eq!(check(&Config::default()), Ok(()));
        assert_eq!(spelled(30 * DAY), "30d");
        assert_eq!(spelled(10 * MINUTE), "10m");
        assert_eq!(spelled(HOUR), "1h");
    }
}
