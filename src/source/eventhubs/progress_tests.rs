//! Tests of [`super::Progress`]: the watermark through it, positions and cuts.

use super::*;
use chrono::Duration;

const RULE: WatermarkRule = WatermarkRule {
    lateness: Duration::minutes(15),
    idle_after: Duration::minutes(1),
    hub_lag_limit: Duration::minutes(15),
};

/// A body with no offset, enqueued at an unknown time.
fn body(sequence: i64, newest: Option<DateTime<Utc>>) -> TakenBody {
    TakenBody {
        sequence,
        newest,
        ..TakenBody::default()
    }
}

/// A body with an offset.
fn body_at(sequence: i64, offset: &str, newest: DateTime<Utc>) -> TakenBody {
    TakenBody {
        offset: Some(offset.to_owned()),
        ..body(sequence, Some(newest))
    }
}

fn t(min: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
}

fn progress(n: usize, now: DateTime<Utc>) -> (Progress, Vec<Arc<Activity>>) {
    let activities: Vec<_> = (0..n).map(|_| Arc::new(Activity::new(now))).collect();
    let mut progress = Progress::new(RULE);
    for a in &activities {
        progress.add(0, a.clone(), None, None);
    }
    (progress, activities)
}

#[test]
fn the_slowest_active_partition_sets_the_watermark() {
    let (mut p, _) = progress(2, t(0));
    p.taken(0, body(0, Some(t(100))));
    assert_eq!(
        p.next_watermark(t(0)),
        None,
        "partition 1 has delivered nothing and is not idle"
    );
    p.taken(1, body(0, Some(t(60))));
    assert_eq!(p.next_watermark(t(0)), Some(t(45)));
    p.advanced(t(45));
    assert_eq!(p.next_watermark(t(0)), None, "no progress, no move");
    p.taken(1, body(1, Some(t(90))));
    assert_eq!(p.next_watermark(t(0)), Some(t(75)));
}

#[test]
fn idle_partitions_stop_holding_back_and_all_idle_releases_everything() {
    let (mut p, activities) = progress(2, t(0));
    p.taken(0, body(0, Some(t(100))));
    p.taken(1, body(0, Some(t(60))));
    activities[0].touch(t(0) + Duration::seconds(40));
    assert_eq!(
        p.next_watermark(t(0) + Duration::seconds(50)),
        Some(t(45)),
        "partition 1 is quiet but not idle yet"
    );
    assert_eq!(
        p.next_watermark(t(1) + Duration::seconds(30)),
        Some(t(85)),
        "partition 1 is idle"
    );
    assert_eq!(
        p.next_watermark(t(3)),
        Some(t(100)),
        "every partition is idle"
    );
    activities[1].set_waiting(true);
    assert_eq!(
        p.next_watermark(t(3)),
        Some(t(45)),
        "held back by backpressure is not idle"
    );
    p.lost(1);
    assert_eq!(
        p.next_watermark(t(1)),
        Some(t(85)),
        "lost partitions do not count"
    );
    assert_eq!(p.owned(), 1);
}

#[test]
fn positions_cover_only_released_bodies_and_cut_the_rest() {
    let (mut p, _) = progress(1, t(0));
    p.started(0, Some(4));
    p.taken(0, body(5, Some(t(10))));
    p.taken(0, body(6, None));
    p.taken(0, body(7, Some(t(30))));
    p.taken(0, body(8, Some(t(12))));
    p.advanced(t(20));
    let cut = ReplayCut {
        through: 8,
        watermark: t(20),
    };
    assert_eq!(
        p.positions(),
        [PartitionPosition {
            resume_after: Some(6),
            replay: vec![cut]
        }]
    );
    p.advanced(t(30));
    assert_eq!(
        p.positions()[0],
        PartitionPosition {
            resume_after: Some(8),
            replay: vec![]
        }
    );
}

#[test]
fn restored_cuts_survive_until_the_bodies_are_read_again() {
    let restored = PartitionPosition {
        resume_after: Some(4),
        replay: vec![ReplayCut {
            through: 9,
            watermark: t(20),
        }],
    };
    let mut p = Progress::new(RULE);
    p.restore_watermark(Some(t(20)));
    p.add(
        0,
        Arc::new(Activity::new(t(0))),
        Some(restored.clone()),
        Some("4096".into()),
    );
    assert_eq!(p.mirror_positions(), [Some((4, "4096".to_owned()))]);
    p.started(0, Some(4));
    assert_eq!(
        p.positions()[0],
        restored,
        "nothing read yet: the checkpoint stays as it was"
    );
    assert_eq!((p.cut_for(0, 5), p.cut_for(0, 10)), (Some(t(20)), None));
    p.taken(0, body(5, Some(t(30))));
    p.taken(0, body(6, Some(t(50))));
    p.advanced(t(35));
    let expected = PartitionPosition {
        resume_after: Some(5),
        replay: vec![
            ReplayCut {
                through: 6,
                watermark: t(35),
            },
            ReplayCut {
                through: 9,
                watermark: t(20),
            },
        ],
    };
    assert_eq!(p.positions()[0], expected);
}

#[test]
fn offsets_follow_the_released_position() {
    let (mut p, _) = progress(1, t(0));
    p.started(0, Some(4));
    assert_eq!(p.mirror_positions(), [None], "no offset known for 4");
    p.taken(0, body_at(5, "500", t(10)));
    p.taken(0, body_at(6, "600", t(30)));
    p.advanced(t(20));
    assert_eq!(p.mirror_positions(), [Some((5, "500".to_owned()))]);
}

#[test]
fn a_source_not_listed_yet_holds_the_watermark_until_it_is_idle() {
    let (mut p, activities) = progress(1, t(0));
    p.hold(7, Arc::new(Activity::new(t(0))));
    p.taken(0, body(0, Some(t(100))));
    assert_eq!(p.next_watermark(t(0)), None, "hub 7 may have older events");
    activities[0].touch(t(1));
    assert_eq!(
        p.next_watermark(t(1)),
        Some(t(85)),
        "idle for idle_after: it holds no more"
    );
    p.release_hold(7);
    assert_eq!(p.next_watermark(t(0)), Some(t(85)));
}

#[test]
fn a_current_hub_far_behind_another_is_cut_loose_a_backlog_is_not() {
    let now = t(1000);
    let mut p = Progress::new(RULE);
    for hub in [0, 1] {
        p.add(hub, Arc::new(Activity::new(now)), None, None);
    }
    let enqueued = |sequence, newest, at| TakenBody {
        enqueued: Some(at),
        ..body(sequence, Some(newest))
    };
    p.taken(0, enqueued(0, t(990), now));
    p.taken(1, enqueued(0, t(900), t(700)));
    let v = p.judge(now);
    assert_eq!(
        (v.candidate, v.cut_loose),
        (Some(t(885)), vec![]),
        "hub 1 reads a backlog (enqueued five hours ago): it holds"
    );
    p.taken(1, body(1, Some(t(905))));
    assert_eq!(
        p.judge(now).candidate,
        Some(t(890)),
        "a body without an enqueued time keeps the last one known"
    );
    p.taken(1, enqueued(2, t(910), now));
    let v = p.judge(now);
    assert_eq!(
        (v.candidate, v.cut_loose),
        (Some(t(960)), vec![1]),
        "hub 1 is current and 80 minutes behind: held 15 minutes behind hub 0"
    );
}

#[test]
fn every_partition_must_be_down_and_the_shortest_outage_counts() {
    let (mut p, a) = progress(2, t(0));
    assert_eq!(p.all_down_for(t(5)), None, "both connected");
    a[0].disconnected(t(1));
    assert_eq!(p.all_down_for(t(5)), None, "one still connected");
    a[1].disconnected(t(3));
    a[1].disconnected(t(4));
    assert_eq!(
        p.all_down_for(t(5)),
        Some(Duration::minutes(2)),
        "the later first failure, kept across retries"
    );
    a[1].connected();
    assert_eq!(p.all_down_for(t(6)), None, "one came back");
    p.lost(1);
    assert_eq!(
        p.all_down_for(t(6)),
        Some(Duration::minutes(5)),
        "a partition another reader took no longer counts"
    );
    let empty = Progress::new(RULE);
    assert_eq!(empty.all_down_for(t(6)), None, "nothing read, nothing down");
}
