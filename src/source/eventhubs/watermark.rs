//! The rule that moves the watermark of `kvwatch run` across hubs and partitions.
//!
//! Records arrive late and out of order across partitions, so no partition alone says
//! how far event time has come. Within a hub, the watermark is the oldest "newest
//! event time" over its active partitions, minus the allowed lateness: the rule replay
//! applies to its input groups, and what keeps a live run that is catching up on a
//! backlog (one partition hours ahead of another) in step with replay.
//!
//! Across hubs one more bound applies. Different exporters lag by different amounts:
//! the subscription's Activity Log typically reaches its hub minutes after the vaults'
//! AuditEvent reaches theirs, and a hub can fall further behind for an hour when Azure
//! is slow. Left alone, that hub would hold every alert of every other hub back by its
//! whole delay. So a hub that is *current* (every active partition's last body was
//! enqueued within `idle_after` of now: it is reading what the service has just
//! received, not a backlog) holds the watermark at most `hub_lag_limit` behind the
//! most advanced hub. Its records older than the watermark are then processed at once,
//! out of order, and counted as late: nothing is dropped, and the arrival rules still
//! read them, but an ordered rule may see them after newer events of other hubs. A hub
//! reading a backlog (old enqueued times) is never cut loose, so a catch-up after a
//! restart gives the same alerts as replay.
//!
//! A partition that delivered nothing for `idle_after` (wall clock) and has nothing
//! waiting stops holding the watermark back; when every partition is idle, the
//! watermark jumps to the newest event seen, releasing everything (as the end of a
//! replay does). A partition that is not idle but has delivered nothing yet (a reader
//! still connecting, with a backlog maybe) holds the watermark where it is.

use chrono::{DateTime, Duration, Utc};

/// How the watermark moves: `[pipeline] lateness` and `[eventhubs]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkRule {
    /// How late an event may arrive and still be processed in event-time order.
    pub lateness: Duration,
    /// A partition quiet this long (wall clock) with nothing waiting stops holding
    /// back; a body enqueued within this long of now is current.
    pub idle_after: Duration,
    /// How far (event time) a current hub may hold the watermark behind the most
    /// advanced hub.
    pub hub_lag_limit: Duration,
}

/// What the rule needs to know of one partition still read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionView {
    /// Its hub (the `[[eventhubs.hubs]]` index).
    pub hub: usize,
    /// The newest event time taken from it, if any.
    pub newest: Option<DateTime<Utc>>,
    /// Whether it has been quiet for `idle_after` with nothing waiting.
    pub idle: bool,
    /// When its last body was enqueued, when known.
    pub enqueued: Option<DateTime<Utc>>,
}

/// Where the watermark may move to, and which hubs the lag limit cut loose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The candidate watermark (`None`: a partition or hub holds it where it is).
    pub candidate: Option<DateTime<Utc>>,
    /// Hubs more than `hub_lag_limit` behind the most advanced hub while current:
    /// they no longer hold the watermark back, and their older records are late.
    pub cut_loose: Vec<usize>,
}

/// One hub's standing over its active partitions.
struct HubStanding {
    hub: usize,
    /// The oldest newest-event-time of its active partitions.
    oldest: DateTime<Utc>,
    /// Every active partition is reading bodies enqueued moments ago.
    current: bool,
}

impl WatermarkRule {
    /// The candidate watermark as of `now` (wall clock) over `partitions`; `holding`
    /// says a source not listed yet (a hub still connecting) holds it back.
    pub fn judge(
        &self,
        now: DateTime<Utc>,
        partitions: impl IntoIterator<Item = PartitionView>,
        holding: bool,
    ) -> Verdict {
        if holding {
            return Verdict::default();
        }
        let mut hubs: Vec<HubStanding> = Vec::new();
        let mut newest_seen: Option<DateTime<Utc>> = None;
        for p in partitions {
            newest_seen = newest_seen.max(p.newest);
            if p.idle {
                continue;
            }
            let Some(newest) = p.newest else {
                return Verdict::default(); // active, nothing delivered yet: hold
            };
            let current = p.enqueued.is_some_and(|e| now - e <= self.idle_after);
            match hubs.iter_mut().find(|h| h.hub == p.hub) {
                Some(h) => {
                    h.oldest = h.oldest.min(newest);
                    h.current &= current;
                }
                None => hubs.push(HubStanding {
                    hub: p.hub,
                    oldest: newest,
                    current,
                }),
            }
        }
        let Some(leader) = hubs.iter().map(|h| h.oldest).max() else {
            return Verdict {
                candidate: newest_seen,
                cut_loose: Vec::new(),
            };
        };
        let floor = leader - self.hub_lag_limit;
        let mut cut_loose = Vec::new();
        let mut oldest = leader;
        for h in &hubs {
            if h.current && h.oldest < floor {
                cut_loose.push(h.hub);
                oldest = oldest.min(floor);
            } else {
                oldest = oldest.min(h.oldest);
            }
        }
        cut_loose.sort_unstable();
        Verdict {
            candidate: Some(oldest - self.lateness),
            cut_loose,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    const RULE: WatermarkRule = WatermarkRule {
        lateness: Duration::minutes(15),
        idle_after: Duration::minutes(1),
        hub_lag_limit: Duration::minutes(20),
    };

    /// A partition of `hub` whose newest event is at minute `newest` and whose last
    /// body was enqueued at minute `enqueued`; `now` is minute 1000.
    fn part(hub: usize, newest: i64, enqueued: i64) -> PartitionView {
        PartitionView {
            hub,
            newest: Some(t(newest)),
            idle: false,
            enqueued: Some(t(enqueued)),
        }
    }

    #[test]
    fn the_lag_limit_frees_only_current_hubs_and_never_splits_a_hub() {
        let now = t(1000);
        // (case, partitions, expected candidate minute, hubs cut loose)
        let table: Vec<(&str, Vec<PartitionView>, i64, Vec<usize>)> = vec![
            (
                "one hub, partitions far apart: the slowest holds (a backlog within a hub)",
                vec![part(0, 990, 1000), part(0, 600, 1000)],
                585,
                vec![],
            ),
            (
                "two hubs within the limit: the slower holds",
                vec![part(0, 990, 1000), part(1, 975, 1000)],
                960,
                vec![],
            ),
            (
                "a current hub an hour behind: held at the limit, cut loose",
                vec![part(0, 990, 1000), part(1, 930, 1000), part(1, 935, 999)],
                955,
                vec![1],
            ),
            (
                "a hub reading a backlog (enqueued long ago) holds however far behind",
                vec![part(0, 990, 1000), part(1, 600, 700)],
                585,
                vec![],
            ),
            (
                "one partition of the lagging hub on a backlog: the hub holds",
                vec![part(0, 990, 1000), part(1, 930, 1000), part(1, 931, 900)],
                915,
                vec![],
            ),
            (
                "no enqueued time known: not current, it holds",
                vec![
                    part(0, 990, 1000),
                    PartitionView {
                        enqueued: None,
                        ..part(1, 930, 1000)
                    },
                ],
                915,
                vec![],
            ),
            (
                "the leader is the most advanced hub, not the newest partition",
                vec![part(0, 990, 1000), part(0, 970, 1000), part(1, 945, 1000)],
                935,
                vec![1],
            ),
        ];
        for (case, partitions, expected, cut) in table {
            let v = RULE.judge(now, partitions, false);
            assert_eq!(v.candidate, Some(t(expected)), "{case}");
            assert_eq!(v.cut_loose, cut, "{case}");
        }
    }

    #[test]
    fn idle_partitions_do_not_hold_and_all_idle_releases_everything() {
        let idle = PartitionView {
            idle: true,
            ..part(1, 500, 500)
        };
        let v = RULE.judge(t(1000), [part(0, 990, 1000), idle], false);
        assert_eq!(v.candidate, Some(t(975)));
        let all_idle = [
            PartitionView {
                idle: true,
                ..part(0, 990, 990)
            },
            idle,
        ];
        assert_eq!(RULE.judge(t(1000), all_idle, false).candidate, Some(t(990)));
    }

    #[test]
    fn an_active_partition_with_nothing_yet_or_a_source_not_listed_holds() {
        let empty = PartitionView {
            newest: None,
            ..part(1, 0, 1000)
        };
        assert_eq!(
            RULE.judge(t(1000), [part(0, 990, 1000), empty], false),
            Verdict::default()
        );
        assert_eq!(
            RULE.judge(t(1000), [part(0, 990, 1000)], true),
            Verdict::default()
        );
    }
}
