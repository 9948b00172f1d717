//! Gaps: events a partition no longer has when a reader comes back for them.
//!
//! Event Hubs numbers the events of a partition one after the other, so a reader
//! that resumes after sequence number `n` must next see `n + 1`. When retention
//! removed events while kvwatch was stopped (or cut off) longer than the hub keeps
//! them, the service silently starts at the partition's first remaining event: those
//! events were never analysed, and the SOC must know detection was blind for them.
//! Two checks, each counted once: at attach, the partition's beginning is past the
//! next expected event (what retention removed), and the first event after attaching
//! is not the next expected one (what went between reading the properties and the
//! first event, or when the properties could not be read). Each gap is one
//! [`Gap`], logged at error level and counted (`kvwatch_eventhubs_gaps_total`,
//! `kvwatch_eventhubs_gap_events_total`) by the reader that finds it.

/// Events skipped in one partition: every sequence number after `after` and
/// before `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The last event handled before the gap.
    pub after: i64,
    /// The first event available after it.
    pub next: i64,
}

impl Gap {
    /// How many events were skipped.
    pub fn events(&self) -> u64 {
        u64::try_from(self.next - self.after - 1).unwrap_or(0)
    }
}

/// One attach's gap checks.
#[derive(Debug, Default)]
pub struct GapCheck {
    /// The sequence number the next event must have, while the first event after
    /// an attach has not come yet.
    expected: Option<i64>,
}

impl GapCheck {
    /// A reader attaches after `last` (the last event handled, when known); the
    /// partition begins at `beginning` (when its properties could be read). A
    /// `beginning` past `last + 1` is a gap.
    pub fn attach(&mut self, last: Option<i64>, beginning: Option<i64>) -> Option<Gap> {
        let Some(last) = last else {
            // No position (a first start at `earliest` or an enqueued time): nothing
            // was expected, nothing can be missing.
            self.expected = None;
            return None;
        };
        let next = last.saturating_add(1);
        match beginning {
            Some(b) if b > next => {
                self.expected = Some(b);
                Some(Gap {
                    after: last,
                    next: b,
                })
            }
            _ => {
                self.expected = Some(next);
                None
            }
        }
    }

    /// An event with sequence number `sequence` arrived (after duplicates were
    /// dropped). Only the first one after an attach is checked: later ones follow
    /// in the service's order.
    pub fn event(&mut self, sequence: i64) -> Option<Gap> {
        let expected = self.expected.take()?;
        (sequence > expected).then_some(Gap {
            after: expected - 1,
            next: sequence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (last handled, partition beginning, first event) -> gaps found.
    type Case = (Option<i64>, Option<i64>, i64, Vec<Gap>);

    #[test]
    fn each_gap_is_found_once_and_contiguous_reads_find_none() {
        let table: [Case; 6] = [
            (Some(9), Some(0), 10, vec![]),
            (Some(9), Some(10), 10, vec![]),
            (Some(9), Some(15), 15, vec![Gap { after: 9, next: 15 }]),
            (
                Some(9),
                Some(15),
                18,
                vec![
                    Gap { after: 9, next: 15 },
                    Gap {
                        after: 14,
                        next: 18,
                    },
                ],
            ),
            (Some(9), None, 12, vec![Gap { after: 9, next: 12 }]),
            (None, Some(50), 50, vec![]),
        ];
        for (last, beginning, first, want) in table {
            let mut check = GapCheck::default();
            let mut found: Vec<Gap> = check.attach(last, beginning).into_iter().collect();
            found.extend(check.event(first));
            found.extend(check.event(first + 5));
            assert_eq!(
                found, want,
                "last {last:?}, beginning {beginning:?}, first {first}"
            );
        }
        assert_eq!(Gap { after: 9, next: 15 }.events(), 5);
    }
}
