//! When in the day and week a principal is active, in 68 bytes.
//!
//! [`DayProfile`] keeps decayed event counts per hour of day and per weekday, to
//! scale a rate to the hour it is tested at (a backup job's 02:00 is not its
//! 14:00). Every principal has one, so its size counts a million times over: the
//! 31 buckets are 16-bit integers sharing one binary exponent (block floating
//! point) instead of 32-bit floats, which halves them. Only ratios between
//! buckets and a "has it seen a day's worth" threshold are read, so 16 bits of
//! the largest bucket are ample. Snapshots keep the plain decayed counts, as
//! before this encoding.

use serde::{Deserialize, Serialize};

/// The daily ageing factor (about a two-week memory).
const DAY_DECAY: f32 = 0.93;
/// Units per event at exponent 0: counts are kept to 1/256 of an event.
const FRACTION_BITS: i32 = 8;
/// Below this largest bucket the exponent steps down again, for precision.
const LOW_WATER: u16 = 1 << 14;

/// Hour-of-day and day-of-week activity, decayed daily.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "DayCounts", into = "DayCounts")]
pub struct DayProfile {
    hours: [u16; 24],
    days: [u16; 7],
    /// A unit is worth 2^(exp - FRACTION_BITS) events.
    exp: u8,
    day: u32,
}

/// A [`DayProfile`] as snapshots store it: plain decayed counts.
#[derive(Serialize, Deserialize)]
struct DayCounts {
    hours: [f32; 24],
    days: [f32; 7],
    day: u32,
}

impl DayProfile {
    fn unit(&self) -> f32 {
        2f32.powi(i32::from(self.exp) - FRACTION_BITS)
    }

    fn buckets_mut(&mut self) -> impl Iterator<Item = &mut u16> {
        self.hours.iter_mut().chain(self.days.iter_mut())
    }

    fn largest(&self) -> u16 {
        self.hours
            .iter()
            .chain(&self.days)
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Records an event at `now` (seconds).
    pub fn add(&mut self, now: u32) {
        let day = now / 86_400;
        if day > self.day {
            let f = DAY_DECAY.powi((day - self.day).min(400) as i32);
            // Rounded down, so that a bucket left alone decays to zero.
            self.buckets_mut()
                .for_each(|v| *v = (f32::from(*v) * f) as u16);
            while self.exp > 0 && self.largest() < LOW_WATER {
                self.buckets_mut().for_each(|v| *v *= 2);
                self.exp -= 1;
            }
            self.day = day;
        }
        let hour = ((now % 86_400) / 3600) as usize;
        let weekday = ((day + 3) % 7) as usize; // 1970-01-01 was a Thursday
        loop {
            let step = self.event_units(now);
            let top = u32::from(self.hours[hour].max(self.days[weekday]));
            if top + step <= u32::from(u16::MAX) {
                // Fits: both buckets are at most `top`.
                self.hours[hour] += step as u16;
                self.days[weekday] += step as u16;
                return;
            }
            self.buckets_mut().for_each(|v| *v = v.div_ceil(2));
            self.exp = self.exp.saturating_add(1);
        }
    }

    /// One event in units. Past 256 units per event the unit is worth more than
    /// an event: then an event adds one unit with the matching probability, drawn
    /// from its own time, so that a replay counts exactly as the live run did.
    fn event_units(&self, now: u32) -> u32 {
        let shift = i32::from(self.exp) - FRACTION_BITS;
        if shift <= 0 {
            return 1 << -shift;
        }
        let draw = u64::from(now).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        u32::from(draw & ((1u64 << shift.min(31)) - 1) == 0)
    }

    /// How much busier than average the hour and weekday of `now` are (clamped).
    pub fn factor(&self, now: u32) -> f64 {
        let unit = self.unit();
        let total_h: f32 = self.hours.iter().map(|&v| f32::from(v)).sum::<f32>() * unit;
        if total_h < 24.0 {
            return 1.0;
        }
        let mean_h = total_h / 24.0;
        let mean_d = self.days.iter().map(|&v| f32::from(v)).sum::<f32>() * unit / 7.0;
        let h = f32::from(self.hours[((now % 86_400) / 3600) as usize]) * unit;
        let d = f32::from(self.days[((now / 86_400 + 3) % 7) as usize]) * unit;
        let fh = (h + 0.5 * mean_h) / (1.5 * mean_h);
        let fd = (d + 0.5 * mean_d) / (1.5 * mean_d).max(f32::MIN_POSITIVE);
        f64::from(fh * fd).clamp(0.1, 10.0)
    }

    /// The share of activity in the hours within `spread` of the hour of `now`.
    pub fn share_near(&self, now: u32, spread: u32) -> f64 {
        let total: u32 = self.hours.iter().map(|&v| u32::from(v)).sum();
        if total == 0 {
            return 0.0;
        }
        let h = (now % 86_400) / 3600;
        let near: u32 = (0..=2 * spread.min(11))
            .map(|i| u32::from(self.hours[((h + 24 + i - spread.min(11)) % 24) as usize]))
            .sum();
        f64::from(near) / f64::from(total)
    }
}

impl From<DayCounts> for DayProfile {
    fn from(c: DayCounts) -> Self {
        let clean = |v: f32| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        let largest = c
            .hours
            .iter()
            .chain(&c.days)
            .copied()
            .map(clean)
            .fold(0.0, f32::max);
        let mut exp = 0u8;
        while exp < 100 && largest / 2f32.powi(i32::from(exp) - FRACTION_BITS) > f32::from(u16::MAX)
        {
            exp += 1;
        }
        let unit = 2f32.powi(i32::from(exp) - FRACTION_BITS);
        let units = |v: f32| (clean(v) / unit).round().min(f32::from(u16::MAX)) as u16;
        DayProfile {
            hours: c.hours.map(units),
            days: c.days.map(units),
            exp,
            day: c.day,
        }
    }
}

impl From<DayProfile> for DayCounts {
    fn from(p: DayProfile) -> Self {
        let unit = p.unit();
        DayCounts {
            hours: p.hours.map(|v| f32::from(v) * unit),
            days: p.days.map(|v| f32::from(v) * unit),
            day: p.day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nightly_job_is_busy_at_its_hour() {
        let mut p = DayProfile::default();
        for day in 0..10u32 {
            for _ in 0..10 {
                p.add(day * 86_400 + 2 * 3600 + 60);
            }
        }
        assert!(p.factor(10 * 86_400 + 2 * 3600) > 3.0);
        assert!(p.factor(10 * 86_400 + 14 * 3600) < 0.5);
        assert!(p.share_near(2 * 3600, 1) > 0.99);
    }

    /// Against plain `f32` counts, over a busy principal (thousands of events an
    /// hour, so the exponent climbs and events count by draw) and then a quiet
    /// month: every bucket stays within 2% of the largest.
    #[test]
    fn tracks_plain_counts_through_busy_and_quiet_days() {
        let mut p = DayProfile::default();
        let mut hours = [0f64; 24];
        let mut last_day = 0u32;
        let mut t = 0u32;
        for day in 0..40u32 {
            let busy = day < 20;
            let per_hour = |h: u32| {
                if busy {
                    50 + 400 * u32::from(h == 3)
                } else {
                    u32::from(h % 6 == 0)
                }
            };
            for h in 0..24 {
                for i in 0..per_hour(h) * if busy { 10 } else { 1 } {
                    t = day * 86_400 + h * 3600 + i % 3600;
                    if day > last_day {
                        let f = f64::from(DAY_DECAY).powi((day - last_day) as i32);
                        hours.iter_mut().for_each(|v| *v *= f);
                        last_day = day;
                    }
                    hours[h as usize] += 1.0;
                    p.add(t);
                }
            }
            let largest = hours.iter().copied().fold(0.0, f64::max);
            let ours = DayCounts::from(p.clone());
            for (h, (a, b)) in ours.hours.iter().zip(&hours).enumerate() {
                assert!(
                    (f64::from(*a) - b).abs() <= 0.02 * largest + 1.0,
                    "day {day} hour {h}: {a} vs {b} (largest {largest}, exp {})",
                    p.exp
                );
            }
        }
        assert!(t > 0);
    }

    #[test]
    fn snapshots_keep_plain_counts() {
        let mut p = DayProfile::default();
        for i in 0..300 {
            p.add(86_400 + 5 * 3600 + i);
        }
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"hours\":[0.0,"), "{json}");
        assert!(json.contains("300.0"), "{json}");
        let back: DayProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        // Corrupt values read as nothing, not as a panic.
        let odd = r#"{"hours":[1e39,-1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"days":[0,0,0,0,0,0,0],"day":3}"#;
        assert!(serde_json::from_str::<DayProfile>(odd).is_ok());
    }

    #[test]
    fn is_small() {
        assert!(std::mem::size_of::<DayProfile>() <= 68);
    }
}
