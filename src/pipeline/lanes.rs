//! The two lanes an event travels: the arrival lane, where the rules that need only
//! the record alert in seconds, and the ordered lane, where everything waits for the
//! watermark so that windows and baselines see event-time order.
//!
//! A rule such as "an access policy was added" or "a diagnostic setting was deleted"
//! needs the record and what earlier records *of the same kind* taught its detector
//! (the vault's last configuration, a scope's vaults): nothing an AuditEvent still
//! waiting in the reorder buffer could change. Holding it for the allowed lateness
//! (15 minutes by default) would only delay the alert. Detectors say which events
//! their arrival rules read ([`crate::detect::detector::Detector::on_arrival`]); the
//! pipeline hands those to the arrival rules at a moment [`ArrivalMode`] chooses, and
//! every event (claimed or not) to the ordered rules when the watermark passes it.
//!
//! When do the arrival rules read a claimed event? As soon as the ordered lane has
//! released everything older than the event's time minus the lateness: in a live run
//! with every partition current, that is the moment the record arrives (the
//! watermark is already one lateness behind the newest records), or the next batch
//! of any partition. Defined by the watermark, not by the wall clock, the moment is
//! the same in every run: a live run catching up on a backlog (one partition hours
//! ahead of another), a replay of a Storage archive (each vault's hour in one blob)
//! and a live run in real time read the same ordered events before each arrival,
//! and give the same alerts and ids.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use super::dedup::ContentHash;
use super::reorder::{Admission, Released, ReorderBuffer};
use crate::event::AuditEvent;

/// When the arrival rules read the events their detectors claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArrivalMode {
    /// When the ordered lane reaches the event's time minus the lateness: at once
    /// in a live run whose partitions are current (live, and replay of archives in
    /// arrival order such as Storage hours).
    #[default]
    Paced,
    /// With the ordered rules, when the watermark releases the event (inputs in no
    /// particular order, such as Log Analytics exports: nothing arrives "before"
    /// anything else).
    WithRelease,
}

/// What the pipeline does next with a buffered event.
pub enum Next {
    /// Run the arrival rules, then hand the event to the ordered lane.
    Arrive(Released),
    /// Run the ordered rules (and the arrival rules too, unless they already ran).
    Release(Released),
}

/// The ordered lane's reorder buffer and the paced arrival lane's.
pub struct Lanes {
    ordered: ReorderBuffer,
    arriving: ReorderBuffer,
    lateness: Duration,
}

impl Lanes {
    /// Lanes holding at most `capacity` events each, pacing arrivals `lateness`
    /// ahead of the ordered lane.
    pub fn new(capacity: usize, lateness: Duration) -> Self {
        Lanes {
            ordered: ReorderBuffer::new(capacity),
            arriving: ReorderBuffer::new(capacity),
            lateness,
        }
    }

    /// Buffers an event for the ordered lane (`arrived`: the arrival rules have read
    /// it, or will not need to). A late event is given back to be released at once.
    pub fn order(
        &mut self,
        event: Box<AuditEvent<'static>>,
        hash: ContentHash,
        received: Instant,
        arrived: bool,
    ) -> Result<Admission, Box<AuditEvent<'static>>> {
        self.ordered.push(event, hash, received, arrived)
    }

    /// Buffers a claimed event until the ordered lane reaches its time minus the
    /// lateness. An event already behind that point is given back to arrive at once.
    pub fn pace(
        &mut self,
        event: Box<AuditEvent<'static>>,
        hash: ContentHash,
        received: Instant,
    ) -> Result<Admission, Box<AuditEvent<'static>>> {
        if self
            .ordered
            .released_up_to()
            .is_some_and(|r| event.time - self.lateness < r)
        {
            return Err(event);
        }
        self.arriving.push(event, hash, received, false)
    }

    /// The next step at or before `watermark` (`None`: whatever its time), in the
    /// merged order: an ordered event at its time, an arrival at its time minus the
    /// lateness, arrivals first on a tie.
    pub fn next(&mut self, watermark: Option<DateTime<Utc>>) -> Option<Next> {
        let due = |t: DateTime<Utc>| watermark.is_none_or(|w| t <= w);
        let ordered = self.ordered.next_time().filter(|t| due(*t));
        let arriving = self
            .arriving
            .next_time()
            .map(|t| t - self.lateness)
            .filter(|t| due(*t));
        match (ordered, arriving) {
            (Some(o), Some(a)) if a <= o => self.arriving.pop().map(Next::Arrive),
            (Some(_), _) => self.ordered.pop().map(Next::Release),
            (None, Some(_)) => self.arriving.pop().map(Next::Arrive),
            (None, None) => None,
        }
    }

    /// An event that must leave because a buffer is over its capacity (memory
    /// bound beats ordering).
    pub fn overflow(&mut self) -> Option<Next> {
        if let Some(r) = self.arriving.pop_overflow() {
            return Some(Next::Arrive(r));
        }
        self.ordered.pop_overflow().map(Next::Release)
    }

    /// Events waiting in both lanes.
    pub fn len(&self) -> usize {
        self.ordered.len() + self.arriving.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The time of the newest event the ordered lane released.
    pub fn released_up_to(&self) -> Option<DateTime<Utc>> {
        self.ordered.released_up_to()
    }

    /// The content hashes of every waiting event.
    pub fn hashes(&self) -> impl Iterator<Item = ContentHash> + '_ {
        self.ordered.hashes().chain(self.arriving.hashes())
    }

    /// The waiting events the arrival rules have read already (paced arrivals not
    /// yet read are left out).
    pub fn arrived(&self) -> impl Iterator<Item = (&AuditEvent<'static>, ContentHash)> + '_ {
        self.ordered.arrived()
    }

    /// Resumes after a restart whose checkpoint had released events up to `time`.
    pub fn resume_after(&mut self, time: DateTime<Utc>) {
        self.ordered.resume_after(time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(minute: i64) -> Box<AuditEvent<'static>> {
        let line = format!(
            r#"{{"time":"2026-03-02T09:{minute:02}:00Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","identity":{{"claim":{{"oid":"a"}}}},"properties":{{"httpStatusCode":200}},"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1"}}"#
        );
        let e = crate::decode::decode_record(line.as_bytes()).expect("a valid record");
        Box::new(e.into_owned())
    }

    fn minute_of(r: &Released) -> u32 {
        use chrono::Timelike;
        r.event.time.minute()
    }

    #[test]
    fn a_paced_arrival_is_read_where_the_live_watermark_would_stand() {
        let now = Instant::now();
        let mut lanes = Lanes::new(100, Duration::minutes(15));
        for m in [0u8, 10, 20, 30, 40] {
            lanes
                .order(event(i64::from(m)), u128::from(m), now, true)
                .expect("buffered");
        }
        lanes.pace(event(30), 99, now).expect("paced");
        let mut steps = Vec::new();
        while let Some(next) = lanes.next(None) {
            steps.push(match next {
                Next::Arrive(r) => format!("arrive {}", minute_of(&r)),
                Next::Release(r) => format!("release {}", minute_of(&r)),
            });
        }
        assert_eq!(
            steps,
            [
                "release 0",
                "release 10",
                "arrive 30",
                "release 20",
                "release 30",
                "release 40"
            ],
            "the arrival at 09:30 is read once the ordered lane passed 09:15"
        );
    }

    #[test]
    fn nothing_leaves_before_the_watermark_allows_it() {
        let now = Instant::now();
        let mut lanes = Lanes::new(100, Duration::minutes(15));
        lanes.order(event(10), 1, now, true).expect("buffered");
        lanes.pace(event(40), 2, now).expect("paced");
        let at = |m: u32| {
            "2026-03-02T09:00:00Z"
                .parse::<DateTime<Utc>>()
                .map(|t| t + Duration::minutes(i64::from(m)))
                .ok()
        };
        assert!(lanes.next(at(5)).is_none(), "nothing is due at 09:05");
        assert!(matches!(lanes.next(at(24)), Some(Next::Release(_))));
        assert!(lanes.next(at(24)).is_none(), "09:40 arrives at 09:25");
        assert!(matches!(lanes.next(at(25)), Some(Next::Arrive(_))));
        assert!(lanes.is_empty());
    }

    #[test]
    fn an_arrival_behind_the_ordered_lane_is_given_back() {
        let now = Instant::now();
        let mut lanes = Lanes::new(100, Duration::minutes(15));
        lanes.order(event(40), 1, now, true).expect("buffered");
        assert!(matches!(lanes.next(None), Some(Next::Release(_))));
        assert!(
            lanes.pace(event(50), 2, now).is_err(),
            "09:35 is behind 09:40"
        );
        assert!(lanes.pace(event(59), 3, now).is_ok(), "09:44 is not");
    }
}
