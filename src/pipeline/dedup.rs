//! Exact-duplicate suppression: Event Hubs delivers at least once, records have no id.
//!
//! A record is identified by a 128-bit hash of its normalised content
//! ([`content_hash`]), so the same record seen twice, even in two shapes, is one
//! event. Hashes are remembered for a window of event time behind the watermark, in
//! buckets, so memory is bounded by the event rate times the window.
//!
//! Forgetting follows the watermark, not the newest event ingested: live, one
//! partition can run hours ahead of another, and a duplicate that arrives on the
//! slower one must still be recognised, exactly as a replay of the same records would.
//! A watermark far behind (or none, inside one large replay input) cannot make memory
//! grow without bound: hashes older than [`MAX_SKEW`] plus the window behind the
//! newest event are forgotten regardless.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Duration, Utc};
use xxhash_rust::xxh3::Xxh3;

use crate::event::AuditEvent;

/// A 128-bit content hash of a normalised event.
pub type ContentHash = u128;

/// Hashes the facts that identify a request (not the shape it arrived in).
pub fn content_hash(e: &AuditEvent<'_>) -> ContentHash {
    let mut h = Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u32).to_le_bytes());
        h.update(bytes);
    };
    field(
        &e.time
            .timestamp_nanos_opt()
            .unwrap_or(i64::MIN)
            .to_le_bytes(),
    );
    field(e.vault.as_bytes());
    field(e.operation.as_str().as_bytes());
    field(&e.status.to_le_bytes());
    match e.caller_ip {
        Some(std::net::IpAddr::V4(a)) => field(&a.octets()),
        Some(std::net::IpAddr::V6(a)) => field(&a.octets()),
        None => field(&[]),
    }
    field(e.principal.key.as_deref().unwrap_or("").as_bytes());
    match &e.object {
        Some(o) => {
            field(o.kind.as_str().as_bytes());
            field(o.name.as_deref().unwrap_or("").as_bytes());
            field(o.version.as_deref().unwrap_or("").as_bytes());
        }
        None => field(&[]),
    }
    field(e.correlation_id.as_deref().unwrap_or("").as_bytes());
    field(e.client_info.as_deref().unwrap_or("").as_bytes());
    field(&e.duration_ms.unwrap_or(u32::MAX).to_le_bytes());
    // ACTIVITY-LOG (issue #13): the changes of one ARM deployment can share caller,
    // time and correlation id; their resource and scope (lower case in every shape)
    // tell them apart.
    if let Some(c) = e.control_plane() {
        field(c.resource_id.as_deref().unwrap_or("").as_bytes());
        field(c.scope.as_deref().unwrap_or("").as_bytes());
    }
    h.digest128()
}

/// The hash is already uniform: the set uses its low bits directly.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(buf);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

type HashSet128 = HashSet<ContentHash, BuildHasherDefault<PassThrough>>;

/// 2 adds the arrived hashes after `newest`; 1 still loads.
const SNAPSHOT_VERSION: u8 = 2;

/// How far event time may run ahead of the watermark before the newest event, not
/// the watermark, decides what is forgotten.
pub const MAX_SKEW: Duration = Duration::hours(24);

/// Reads fixed-size little-endian fields from a snapshot.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_at_checked(N)
            .ok_or("truncated deduplication snapshot")?;
        self.0 = rest;
        head.try_into()
            .map_err(|_| "truncated deduplication snapshot".to_owned())
    }
}

/// Remembers content hashes for a window of event time.
pub struct Dedup {
    window: Duration,
    bucket: Duration,
    seen: HashSet128,
    buckets: VecDeque<(DateTime<Utc>, Vec<ContentHash>)>,
    newest: Option<DateTime<Utc>>,
    watermark: Option<DateTime<Utc>>,
    /// Events the arrival rules had read, still waiting for the watermark, when the
    /// restored snapshot was taken: read again after the restart, they go straight
    /// to the ordered lane (their arrival alerts were raised already).
    arrived: HashSet128,
}

impl Dedup {
    /// A deduplicator remembering `window` of event time (at least one minute).
    pub fn new(window: std::time::Duration) -> Self {
        let window = Duration::from_std(window)
            .unwrap_or(Duration::hours(1))
            .max(Duration::minutes(1));
        Dedup {
            window,
            bucket: window / 8,
            seen: HashSet128::default(),
            buckets: VecDeque::new(),
            newest: None,
            watermark: None,
            arrived: HashSet128::default(),
        }
    }

    /// The watermark moved: hashes a window behind it can go.
    pub fn advance(&mut self, watermark: DateTime<Utc>) {
        if self.watermark.is_none_or(|w| watermark > w) {
            self.watermark = Some(watermark);
            self.evict();
        }
    }

    /// Records a hash; `false` when it was already seen within the window.
    pub fn first_sighting(&mut self, hash: ContentHash, time: DateTime<Utc>) -> bool {
        if !self.seen.insert(hash) {
            return false;
        }
        let bucket_start = self.bucket_of(time);
        match self
            .buckets
            .iter_mut()
            .rev()
            .find(|(start, _)| *start == bucket_start)
        {
            Some((_, hashes)) => hashes.push(hash),
            None => {
                let at = self
                    .buckets
                    .partition_point(|(start, _)| *start < bucket_start);
                self.buckets.insert(at, (bucket_start, vec![hash]));
            }
        }
        if self.newest.is_none_or(|n| time > n) {
            self.newest = Some(time);
            self.evict();
        }
        true
    }

    /// How many hashes are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The remembered hashes as bytes, for a checkpoint, leaving out `except` (the
    /// events a restart will read again) and noting `arrived` (those of them the
    /// arrival rules have read already). Little-endian: a version byte, the newest
    /// time (ms, `i64::MIN` for none), the arrived count (`u32`) and hashes
    /// (`u128`), then per bucket its start (ms), its hash count (`u32`) and the
    /// hashes.
    pub fn save(&self, except: &HashSet<ContentHash>, arrived: &[ContentHash]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            13 + (self.seen.len() + arrived.len()) * 16 + self.buckets.len() * 12,
        );
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(
            &self
                .newest
                .map_or(i64::MIN, |t| t.timestamp_millis())
                .to_le_bytes(),
        );
        out.extend_from_slice(&(arrived.len() as u32).to_le_bytes());
        for h in arrived {
            out.extend_from_slice(&h.to_le_bytes());
        }
        for (start, hashes) in &self.buckets {
            let kept: Vec<&ContentHash> = hashes.iter().filter(|h| !except.contains(h)).collect();
            out.extend_from_slice(&start.timestamp_millis().to_le_bytes());
            out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
            for h in kept {
                out.extend_from_slice(&h.to_le_bytes());
            }
        }
        out
    }

    /// Whether the arrival rules had read this event before the restored snapshot
    /// (see [`Dedup::save`]); answers `true` once per such event.
    pub fn arrived_before_restart(&mut self, hash: ContentHash) -> bool {
        !self.arrived.is_empty() && self.arrived.remove(&hash)
    }

    /// Replaces what is remembered with a [`Dedup::save`] snapshot (empty bytes: an
    /// empty memory).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.seen.clear();
        self.buckets.clear();
        self.arrived.clear();
        self.newest = None;
        if bytes.is_empty() {
            return Ok(());
        }
        let mut r = Reader(bytes);
        let version = r.take::<1>()?[0];
        if version != 1 && version != SNAPSHOT_VERSION {
            return Err(format!(
                "unknown deduplication snapshot version {version} (this build reads 1 and 2)"
            ));
        }
        let time =
            |ms: i64| DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("bad time {ms}"));
        let newest = i64::from_le_bytes(r.take()?);
        self.newest = if newest == i64::MIN {
            None
        } else {
            Some(time(newest)?)
        };
        if version >= 2 {
            let count = u32::from_le_bytes(r.take()?) as usize;
            for _ in 0..count {
                self.arrived.insert(u128::from_le_bytes(r.take()?));
            }
        }
        while !r.0.is_empty() {
            let start = time(i64::from_le_bytes(r.take()?))?;
            let count = u32::from_le_bytes(r.take()?) as usize;
            let mut hashes = Vec::with_capacity(count.min(r.0.len() / 16));
            for _ in 0..count {
                let h = u128::from_le_bytes(r.take()?);
                self.seen.insert(h);
                hashes.push(h);
            }
            self.buckets.push_back((start, hashes));
        }
        Ok(())
    }

    fn bucket_of(&self, time: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.bucket.num_milliseconds().max(1);
        let ms = time.timestamp_millis();
        DateTime::from_timestamp_millis(ms - ms.rem_euclid(step)).unwrap_or(time)
    }

    fn evict(&mut self) {
        let by_newest = self.newest.map(|n| n - MAX_SKEW);
        let Some(front) = self.watermark.max(by_newest) else {
            return;
        };
        let horizon = front - self.window;
        while let Some((start, _)) = self.buckets.front() {
            if *start + self.bucket > horizon {
                break;
            }
            if let Some((_, hashes)) = self.buckets.pop_front() {
                for h in hashes {
                    self.seen.remove(&h);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn duplicates_inside_the_window_are_dropped() {
        let mut d = Dedup::new(std::time::Duration::from_secs(3600));
        assert!(d.first_sighting(1, t(0)));
        assert!(!d.first_sighting(1, t(0)));
        assert!(d.first_sighting(2, t(30)));
        assert!(!d.first_sighting(1, t(0)), "still inside the window");
        assert!(d.first_sighting(3, t(200)));
        assert!(!d.first_sighting(1, t(0)), "the watermark has not moved");
        d.advance(t(190));
        assert!(
            d.first_sighting(1, t(0)),
            "forgotten a window behind the watermark"
        );
        assert!(d.len() <= 3);
    }

    #[test]
    fn a_partition_running_ahead_does_not_make_the_others_forget() {
        let mut d = Dedup::new(std::time::Duration::from_secs(3600));
        assert!(d.first_sighting(1, t(0)));
        d.advance(t(0));
        assert!(
            d.first_sighting(2, t(600)),
            "another partition, ten hours ahead"
        );
        assert!(
            !d.first_sighting(1, t(0)),
            "the slow partition's duplicate is still caught"
        );
        assert!(d.first_sighting(3, t(60 * 26)), "more than a day ahead");
        assert!(
            d.first_sighting(1, t(0)),
            "memory stays bounded: forgotten past the skew"
        );
    }

    #[test]
    fn a_snapshot_restores_all_but_the_excepted_hashes() {
        let mut d = Dedup::new(std::time::Duration::from_secs(3600));
        for (h, m) in [(1, 0), (2, 10), (3, 20), (4, 50)] {
            assert!(d.first_sighting(h, t(m)));
        }
        let bytes = d.save(&HashSet::from([3]), &[3]);
        let mut r = Dedup::new(std::time::Duration::from_secs(3600));
        r.restore(&bytes).unwrap();
        assert_eq!(r.len(), 3);
        assert!(!r.first_sighting(1, t(0)));
        assert!(
            r.first_sighting(3, t(20)),
            "excepted hashes are not remembered"
        );
        assert!(
            r.first_sighting(5, t(200)),
            "the window goes on from the restored newest"
        );
        r.advance(t(200));
        assert!(
            r.first_sighting(1, t(0)),
            "old buckets are evicted as before"
        );
        assert!(r.arrived_before_restart(3), "3 was read on arrival");
        assert!(!r.arrived_before_restart(3), "once");
        assert!(!r.arrived_before_restart(1));
        assert!(r.restore(&bytes[..bytes.len() - 3]).is_err());
        assert!(r.restore(&[]).is_ok() && r.is_empty());
    }

    #[test]
    fn late_arrivals_land_in_their_own_bucket() {
        let mut d = Dedup::new(std::time::Duration::from_secs(3600));
        assert!(d.first_sighting(10, t(50)));
        assert!(d.first_sighting(11, t(5)));
        assert!(!d.first_sighting(11, t(5)));
        assert!(d.first_sighting(12, t(70)));
        assert!(!d.first_sighting(10, t(50)));
    }
}
