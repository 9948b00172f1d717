//! A vault's pulse and the chance of its silence, as tables.

use super::*;

const H: u32 = 3600;
/// 2024-05-06T00:00:00Z, a slot boundary.
const DAY: u32 = 1_714_953_600;

/// A pulse with one record every `every` seconds from `from` to `to` (seconds
/// after [`DAY`]).
fn pulse(records: &[(u32, u32, u32)]) -> Pulse {
    let mut p: Option<Pulse> = None;
    for &(from, to, every) in records {
        let mut t = from;
        while t < to {
            p.get_or_insert_with(|| Pulse::new(DAY + t)).add(DAY + t);
            t += every;
        }
    }
    p.unwrap_or_default()
}

#[test]
fn the_ring_counts_per_ten_minutes_and_forgets_what_is_a_day_old() {
    let mut p = Pulse::new(DAY);
    p.add(DAY);
    p.add(DAY + 599);
    p.add(DAY + 600);
    assert_eq!(p.sum(DAY / SLOT_SECS, DAY / SLOT_SECS + 1), (2, 1));
    assert_eq!(p.sum(DAY / SLOT_SECS, DAY / SLOT_SECS + 2), (3, 2));
    // A day and more later, the old slots are gone and their counters cleared.
    p.add(DAY + 25 * H);
    let now = (DAY + 25 * H) / SLOT_SECS;
    assert_eq!(p.sum(now - SLOTS + 1, now + 1), (1, SLOTS));
    assert_eq!(p.counts.iter().map(|&c| u32::from(c)).sum::<u32>(), 1);
    // A record older than the ring is not counted; a late one within it is.
    p.add(DAY);
    p.add(DAY + 24 * H + 5);
    assert_eq!(p.counts.iter().map(|&c| u32::from(c)).sum::<u32>(), 2);
}

#[test]
fn a_pulse_restored_without_its_ring_starts_again() {
    let mut p = Pulse {
        first: 1,
        newest: 2,
        counts: vec![1, 2, 3],
    };
    p.add(DAY);
    assert_eq!(p.counts.len(), SLOTS as usize);
    assert_eq!(p.sum(0, u32::MAX).0, 1);
}

#[test]
fn a_silence_is_judged_by_the_vaults_quieter_rate() {
    struct Case {
        what: &'static str,
        records: &'static [(u32, u32, u32)],
        at: u32,
        named: Option<bool>,
    }
    let cases = [
        Case {
            what: "a read a minute for 4 h: 30 silent minutes are no chance",
            records: &[(12 * H, 16 * H, 60)],
            at: 16 * H,
            named: Some(true),
        },
        Case {
            what: "two reads an hour: a quiet half hour is likely",
            records: &[(8 * H, 16 * H, 1800)],
            at: 16 * H,
            named: Some(false),
        },
        Case {
            what: "busy by day, two an hour since 21:00: judged by the night",
            records: &[(8 * H, 18 * H, 30), (21 * H, 24 * H, 1800)],
            at: 24 * H,
            named: Some(false),
        },
        Case {
            what: "busy all day, a calm last three hours of one a minute still counts",
            records: &[(0, 21 * H, 10), (21 * H, 24 * H, 60)],
            at: 24 * H,
            named: Some(true),
        },
        Case {
            what: "forty minutes of history say nothing",
            records: &[(16 * H, 16 * H + 2400, 10)],
            at: 16 * H + 2400,
            named: None,
        },
    ];
    for c in cases {
        let p = pulse(c.records);
        let got = silence(&p, DAY + c.at, 1800).map(|q| q.chance < 0.001);
        assert_eq!(got, c.named, "{}", c.what);
    }
}

#[test]
fn the_chance_is_poissons_zero() {
    // 60 an hour for 4 hours: 30 expected in 30 minutes.
    let p = pulse(&[(12 * H, 16 * H, 60)]);
    let q = silence(&p, DAY + 16 * H, 1800).expect("enough history");
    assert!((q.day_per_hour - 60.0).abs() < 1e-9, "{q:?}");
    assert!((q.expected - 30.0).abs() < 1e-9, "{q:?}");
    assert!((q.chance - (-30.0f64).exp()).abs() < 1e-15, "{q:?}");
}
