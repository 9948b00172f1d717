//! Event-time parsing for every timestamp spelling the shapes use.
//!
//! Resource logs write ISO-8601 UTC with seven fractional digits
//! (`2024-04-08T15:15:50.6257670Z`); Log Analytics JSON writes the same; the portal's
//! CSV export writes `11/2/2024, 9:12:25.085 AM`. The first form is parsed by hand
//! (it is on every record's hot path); the others go through chrono.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses an event time; `None` when no known spelling matches.
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    parse_iso_utc_fast(t.as_bytes()).or_else(|| parse_slow(t))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, by hand.
fn parse_iso_utc_fast(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = num(0..4)? as i32;
    let (month, day) = (num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &b[19..b.len() - 1];
    let nanos = match frac.split_first() {
        None => 0,
        Some((b'.', digits)) if !digits.is_empty() && digits.len() <= 9 => {
            let value = digits.iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })?;
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let naive = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    Some(Utc.from_utc_datetime(&naive))
}

fn parse_slow(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    const NAIVE_FORMATS: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%m/%d/%Y, %I:%M:%S%.f %p",
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%m/%d/%Y, %H:%M:%S%.f",
        "%m/%d/%Y %H:%M:%S%.f",
    ];
    NAIVE_FORMATS
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(t, fmt).ok())
        .map(|naive| Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_spellings() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "2024-04-08T15:15:50.6257670Z",
                Some("2024-04-08T15:15:50.625767Z"),
            ),
            ("2024-04-08T15:15:50Z", Some("2024-04-08T15:15:50Z")),
            ("2024-04-08T15:15:50.1Z", Some("2024-04-08T15:15:50.100Z")),
            (
                "2024-04-08T17:15:50.5+02:00",
                Some("2024-04-08T15:15:50.500Z"),
            ),
            ("2024-04-08T15:15:50.625", Some("2024-04-08T15:15:50.625Z")),
            (
                "11/2/2024, 9:12:25.085 AM",
                Some("2024-11-02T09:12:25.085Z"),
            ),
            (
                "11/2/2024, 9:12:25.085 PM",
                Some("2024-11-02T21:12:25.085Z"),
            ),
            ("2024-13-08T15:15:50Z", None),
            ("2024-02-30T15:15:50Z", None),
            ("yesterday", None),
            ("", None),
            (
                "2024-04-08T15:15:50.1234567890Z",
                Some("2024-04-08T15:15:50.123456789Z"),
            ),
        ];
        for (text, want) in table {
            let want = want.map(|w| DateTime::parse_from_rfc3339(w).unwrap().with_timezone(&Utc));
            assert_eq!(parse_event_time(text), want, "{text}");
        }
    }
}
