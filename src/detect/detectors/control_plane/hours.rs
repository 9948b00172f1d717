//! When in the day a principal makes its Activity Log changes: `role_grant` raises
//! a grant made outside those hours (a stolen admin session at 03:00), and a granter
//! acting outside them is not routine. 48 bytes per principal that changes
//! anything, kept with `control_plane`'s state.

use serde::{Deserialize, Serialize};

/// When in the day a principal makes its control-plane changes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hours {
    /// Successful changes per hour of the day (UTC), saturating.
    pub counts: [u16; 24],
    /// Its last change (seconds).
    pub last: u32,
}

impl Hours {
    /// Counts a change at `now` (seconds).
    pub fn add(&mut self, now: u32) {
        let h = ((now % 86_400) / 3600) as usize;
        self.counts[h] = self.counts[h].saturating_add(1);
        self.last = now;
    }

    /// Changes counted.
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|&c| u32::from(c)).sum()
    }

    /// The share of the changes made within an hour of the hour of `now`.
    pub fn share_near(&self, now: u32) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let h = ((now % 86_400) / 3600) as usize;
        let near: u32 = [23, 0, 1]
            .iter()
            .map(|d| u32::from(self.counts[(h + d) % 24]))
            .sum();
        f64::from(near) / f64::from(total)
    }

    /// The hours holding its changes, in words (`"08-09, 14 UTC"`).
    pub fn words(&self) -> String {
        let mut runs: Vec<String> = Vec::new();
        let mut h = 0;
        while h < 24 {
            if self.counts[h] == 0 {
                h += 1;
                continue;
            }
            let start = h;
            while h + 1 < 24 && self.counts[h + 1] > 0 {
                h += 1;
            }
            runs.push(if start == h {
                format!("{start:02}")
            } else {
                format!("{start:02}-{h:02}")
            });
            h += 1;
        }
        if runs.is_empty() {
            "none".to_owned()
        } else {
            format!("{} UTC", runs.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_say_where_a_principal_works() {
        let mut h = Hours::default();
        for day in 0..5u32 {
            h.add(day * 86_400 + 9 * 3600);
            h.add(day * 86_400 + 10 * 3600 + 1800);
        }
        h.add(14 * 3600);
        assert_eq!(h.total(), 11);
        assert_eq!(h.words(), "09-10, 14 UTC");
        assert!((h.share_near(10 * 3600) - 10.0 / 11.0).abs() < 1e-9);
        assert_eq!(h.share_near(3 * 3600), 0.0);
        assert!(h.share_near(23 * 3600 + 59 * 60) == 0.0);
        h.add(86_400 * 6); // midnight wraps around to 23:00
        assert!(h.share_near(23 * 3600) > 0.0);
    }
}
