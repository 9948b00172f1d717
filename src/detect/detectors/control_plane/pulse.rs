//! A vault's pulse: its AuditEvent records per ten minutes over the last day, and
//! how unlikely a silence is at that rate (what `audit_log_stopped` judges by);
//! with the watch a blinded vault is under. Data and arithmetic only: the rule is
//! `silence.rs`.
//!
//! The rate is the lower of the whole day's and the last three hours' (a vault busy
//! by day and quiet by night is judged by its quieter rate); the chance of no
//! record at that rate is the Poisson probability of zero events.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Discrete, Poisson};

/// Seconds in one counter of a [`Pulse`].
pub const SLOT_SECS: u32 = 600;
/// Counters in a [`Pulse`]: one day.
pub const SLOTS: u32 = 144;
/// Slots in "the last three hours".
const RECENT_SLOTS: u32 = 18;
/// Slots of history a vault needs before its silence means anything (one hour).
const MIN_SLOTS: u32 = 6;
/// How many AuditEvent records a vault sent, per ten minutes, over the last day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulse {
    /// The slot of its first record (event time / [`SLOT_SECS`]).
    pub first: u32,
    /// The slot of its newest record.
    pub newest: u32,
    /// Records per slot, a ring indexed by slot modulo [`SLOTS`].
    pub counts: Vec<u16>,
}

impl Pulse {
    /// A vault first seen at `now` (seconds).
    pub fn new(now: u32) -> Pulse {
        let slot = now / SLOT_SECS;
        Pulse {
            first: slot,
            newest: slot,
            counts: vec![0; SLOTS as usize],
        }
    }

    /// Counts a record at `now`; a record older than the ring is not counted.
    pub fn add(&mut self, now: u32) {
        let slot = now / SLOT_SECS;
        if self.counts.len() != SLOTS as usize {
            // A restored snapshot that lost its ring: start again.
            *self = Pulse::new(now);
        }
        if slot > self.newest {
            let from = self.newest.max(slot.saturating_sub(SLOTS)) + 1;
            for s in from..=slot {
                self.counts[(s % SLOTS) as usize] = 0;
            }
            self.newest = slot;
        } else if slot + SLOTS <= self.newest {
            return;
        }
        self.first = self.first.min(slot);
        let c = &mut self.counts[(slot % SLOTS) as usize];
        *c = c.saturating_add(1);
    }

    /// Records in slots `from..to`, as far as the ring still holds them, and how
    /// many of those slots it holds.
    pub fn sum(&self, from: u32, to: u32) -> (u64, u32) {
        let oldest = self
            .newest
            .saturating_sub(SLOTS - 1)
            .max(self.first)
            .max(from);
        let mut total = 0u64;
        for s in oldest..to.min(self.newest.saturating_add(1)) {
            total += u64::from(self.counts.get((s % SLOTS) as usize).copied().unwrap_or(0));
        }
        (total, to.saturating_sub(oldest))
    }
}

/// The principal of a watch, as plain fields (the snapshot's binary format wants
/// no skipped fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Who {
    /// The principal key or `ip:<address>` (the incident it joins).
    pub identity: String,
    /// In words.
    pub words: String,
    /// User principal name.
    pub upn: Option<String>,
    /// Application id.
    pub appid: Option<String>,
    /// Object id.
    pub oid: Option<String>,
    /// Its kind.
    pub kind: String,
}

/// A vault whose monitoring was disabled, watched for its records.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Watch {
    /// The vault's name.
    pub vault: String,
    /// When the change finished (seconds).
    pub at: u32,
    /// When the silence is judged (seconds).
    pub due: u32,
    /// The diagnostic setting's name.
    pub setting: String,
    /// Whether it was deleted (else rewritten).
    pub deleted: bool,
    /// Who made the change.
    pub who: Who,
    /// AuditEvent records from the vault after the change.
    pub after: u32,
}

/// The vault's rate before the change and the chance of its silence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    /// Records per hour over the day before the change.
    pub day_per_hour: f64,
    /// Records per hour over the three hours before it.
    pub recent_per_hour: f64,
    /// Records expected in the silence, at the lower rate.
    pub expected: f64,
    /// The chance of none at all.
    pub chance: f64,
}

/// How unlikely a silence of `secs` after `at` is, from `pulse`; `None` when the
/// vault has less than an hour of history.
pub fn silence(pulse: &Pulse, at: u32, secs: u32) -> Option<Silence> {
    let slot = at / SLOT_SECS;
    let (day, day_slots) = pulse.sum(slot.saturating_sub(SLOTS), slot);
    if day_slots < MIN_SLOTS {
        return None;
    }
    let (recent, recent_slots) = pulse.sum(slot.saturating_sub(RECENT_SLOTS), slot);
    let per_hour =
        |n: u64, slots: u32| n as f64 * 3600.0 / (f64::from(slots) * f64::from(SLOT_SECS));
    let day_per_hour = per_hour(day, day_slots);
    let recent_per_hour = per_hour(recent, recent_slots.max(1));
    let expected = day_per_hour.min(recent_per_hour) * f64::from(secs) / 3600.0;
    let chance = Poisson::new(expected).map_or(1.0, |p| p.pmf(0));
    Some(Silence {
        day_per_hour,
        recent_per_hour,
        expected,
        chance,
    })
}

#[cfg(test)]
#[path = "pulse_tests.rs"]
mod tests;
