//! Simulated time: 100-nanosecond ticks, Azure's timestamp spelling and local time.
//!
//! Azure writes `time` with seven fractional digits (.NET ticks), so the simulator
//! counts in the same unit and never loses a digit to a float. People work in their
//! own time zone, with daylight saving time, so working hours are computed in local
//! time and converted back; the rules below cover the zones the simulated tenant uses
//! (EU, US Eastern and Pacific, and fixed offsets such as India).

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

/// A point in time: 100 ns units since the Unix epoch (UTC).
pub(crate) type Tick = i64;

/// One second in ticks.
pub(crate) const SECOND: Tick = 10_000_000;
/// One minute in ticks.
pub(crate) const MINUTE: Tick = 60 * SECOND;
/// One hour in ticks.
pub(crate) const HOUR: Tick = 60 * MINUTE;
/// One day in ticks.
pub(crate) const DAY: Tick = 24 * HOUR;

/// Midnight UTC of `date`.
pub(crate) fn midnight(date: NaiveDate) -> Tick {
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
        * SECOND
}

/// Whole seconds since the epoch (token `iat`/`exp`, expiry attributes).
pub(crate) fn epoch_seconds(t: Tick) -> i64 {
    t.div_euclid(SECOND)
}

/// Milliseconds since the epoch (the portal's `_=` cache buster).
pub(crate) fn epoch_millis(t: Tick) -> i64 {
    t.div_euclid(10_000)
}

/// The UTC date-time of a tick.
pub(crate) fn to_datetime(t: Tick) -> DateTime<Utc> {
    let secs = t.div_euclid(SECOND);
    let nanos = (t.rem_euclid(SECOND) * 100) as u32;
    DateTime::from_timestamp(secs, nanos).unwrap_or_default()
}

/// Appends Azure's spelling, `2026-11-03T14:02:11.1234567Z`.
pub(crate) fn write_time(t: Tick, out: &mut String) {
    use std::fmt::Write;
    let dt = to_datetime(t);
    let frac = t.rem_euclid(SECOND);
    let _ = write!(out, "{}.{frac:07}Z", dt.format("%Y-%m-%dT%H:%M:%S"));
}

/// Azure's spelling as a new string.
pub(crate) fn time_text(t: Tick) -> String {
    let mut s = String::with_capacity(28);
    write_time(t, &mut s);
    s
}

/// The calendar parts of a tick (UTC): year, month, day, hour.
pub(crate) fn ymdh(t: Tick) -> (i32, u32, u32, u32) {
    let dt = to_datetime(t);
    (dt.year(), dt.month(), dt.day(), chrono::Timelike::hour(&dt))
}

/// A time zone with the daylight-saving rule people in it follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// EU rule: summer time from the last Sunday of March to the last Sunday of
    /// October, switching at 01:00 UTC. The value is the standard offset in minutes.
    Europe(i32),
    /// US Eastern (UTC-5, summer -4; second Sunday of March to first Sunday of November).
    UsEastern,
    /// US Pacific (UTC-8, summer -7).
    UsPacific,
    /// A fixed offset in minutes (India: +330).
    Fixed(i32),
}

impl Zone {
    /// The IANA-style name, for `_tenant.json`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Zone::Europe(0) => "Europe/London",
            Zone::Europe(60) => "Europe/Paris",
            Zone::Europe(_) => "Europe",
            Zone::UsEastern => "America/New_York",
            Zone::UsPacific => "America/Los_Angeles",
            Zone::Fixed(330) => "Asia/Kolkata",
            Zone::Fixed(_) => "fixed",
        }
    }

    /// The offset from UTC, in minutes, in force at `t`.
    pub(crate) fn offset_minutes(self, t: Tick) -> i32 {
        let year = to_datetime(t).year();
        match self {
            Zone::Fixed(m) => m,
            Zone::Europe(standard) => {
                let begin = last_sunday(year, 3).map(|d| midnight(d) + HOUR);
                let end = last_sunday(year, 10).map(|d| midnight(d) + HOUR);
                standard + summer(t, begin, end)
            }
            Zone::UsEastern | Zone::UsPacific => {
                let standard = if self == Zone::UsEastern { -300 } else { -480 };
                // 02:00 local standard time, expressed in UTC.
                let local_two = 2 * HOUR - Tick::from(standard) * MINUTE;
                let begin = nth_sunday(year, 3, 2).map(|d| midnight(d) + local_two);
                let end = nth_sunday(year, 11, 1).map(|d| midnight(d) + local_two - HOUR);
                standard + summer(t, begin, end)
            }
        }
    }

    /// The UTC tick of `hours` (fractional) after local midnight of `date`.
    pub(crate) fn at(self, date: NaiveDate, hours: f64) -> Tick {
        let local = midnight(date) + (hours * HOUR as f64) as Tick;
        let guess = local - Tick::from(self.offset_minutes(local)) * MINUTE;
        local - Tick::from(self.offset_minutes(guess)) * MINUTE
    }
}

fn summer(t: Tick, begin: Option<Tick>, end: Option<Tick>) -> i32 {
    match (begin, end) {
        (Some(b), Some(e)) if t >= b && t < e => 60,
        _ => 0,
    }
}

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }?;
    let last = next.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    last.checked_sub_days(chrono::Days::new(u64::from(back)))
}

fn nth_sunday(year: i32, month: u32, n: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let ahead = (7 - first.weekday().num_days_from_sunday()) % 7;
    first.checked_add_days(chrono::Days::new(u64::from(ahead + 7 * (n - 1))))
}

/// Saturday or Sunday.
pub(crate) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn azure_spelling_has_seven_digits() {
        let t = midnight(date(2026, 11, 3)) + 14 * HOUR + 2 * MINUTE + 11 * SECOND + 1_234_567;
        assert_eq!(time_text(t), "2026-11-03T14:02:11.1234567Z");
        assert_eq!(ymdh(t), (2026, 11, 3, 14));
    }

    #[test]
    fn daylight_saving_rules() {
        let paris = Zone::Europe(60);
        assert_eq!(paris.offset_minutes(midnight(date(2026, 7, 1))), 120);
        assert_eq!(paris.offset_minutes(midnight(date(2026, 11, 1))), 60);
        // US summer time ends on the first Sunday of November 2026 (the 1st).
        assert_eq!(
            Zone::UsEastern.offset_minutes(midnight(date(2026, 10, 31))),
            -240
        );
        assert_eq!(
            Zone::UsEastern.offset_minutes(midnight(date(2026, 11, 2))),
            -300
        );
        assert_eq!(
            Zone::UsPacific.offset_minutes(midnight(date(2026, 11, 2))),
            -480
        );
        // 09:00 in Paris on 2 November is 08:00 UTC.
        let nine = paris.at(date(2026, 11, 2), 9.0);
        assert_eq!(time_text(nine), "2026-11-02T08:00:00.0000000Z");
        assert_eq!(
            time_text(Zone::Fixed(330).at(date(2026, 11, 2), 5.5)),
            "2026-11-02T00:00:00.0000000Z"
        );
        assert_eq!(
            time_text(Zone::UsPacific.at(date(2026, 11, 2), 9.0)),
            "2026-11-02T17:00:00.0000000Z"
        );
    }
}
