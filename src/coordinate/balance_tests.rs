//! The fair share as a table: partitions, members, what is held, and what a
//! reservation or a leave check answers.

use super::Share;

fn share(partitions: usize, members: usize, held: &[&str]) -> Share {
    let share = Share::new(partitions);
    for g in held {
        assert!(share.reserve(g, true), "{g}");
    }
    share.set_members(members);
    share
}

#[test]
fn the_fair_share_is_the_ceiling_of_partitions_over_members() {
    // (partitions, members, fair)
    let table = [
        (4, 1, 4),
        (4, 2, 2),
        (4, 3, 2),
        (4, 4, 1),
        (4, 9, 1),
        (5, 2, 3),
        (0, 1, 1),
    ];
    for (partitions, members, fair) in table {
        let s = share(partitions, members, &[]);
        assert_eq!(s.view().fair, fair, "{partitions} over {members}");
    }
    let s = share(4, 0, &[]);
    assert_eq!(s.view().members, 1, "this instance always counts");
}

#[test]
fn reservations_stop_at_the_fair_share_unless_the_partition_is_overdue() {
    // (held before, members, group asked for, overdue, answer)
    let table: [(&[&str], usize, &str, bool, bool); 6] = [
        (&[], 2, "g.p0", false, true),
        (&["g.p0"], 2, "g.p1", false, true),
        (&["g.p0", "g.p1"], 2, "g.p2", false, false),
        (&["g.p0", "g.p1"], 2, "g.p2", true, true),
        (&["g.p0", "g.p1"], 2, "g.p1", false, true),
        (&["g.p0"], 4, "g.p1", false, false),
    ];
    for (held, members, group, overdue, want) in table {
        let s = share(4, members, held);
        assert_eq!(
            s.reserve(group, overdue),
            want,
            "{held:?} {members} {group}"
        );
        let counted = s.view().held.iter().any(|g| g == group);
        assert_eq!(counted, want || held.contains(&group), "{held:?} {group}");
    }
}

#[test]
fn a_surplus_leaves_from_the_end_and_stays_leaving_until_released() {
    let s = share(4, 1, &["g.p0", "g.p1", "g.p2", "g.p3"]);
    let all = ["g.p0", "g.p1", "g.p2", "g.p3"];
    assert!(all.iter().all(|g| !s.should_leave(g)), "alone: keep all");
    s.set_members(2);
    let leaving: Vec<&str> = all.iter().copied().filter(|g| s.should_leave(g)).collect();
    assert_eq!(leaving, ["g.p2", "g.p3"]);
    assert!(s.should_leave("g.p3"), "asked again: still leaving");
    assert!(!s.should_leave("g.p1"));
    s.release("g.p3");
    s.release("g.p2");
    assert_eq!(s.view().held, ["g.p0", "g.p1"]);
    assert!(
        !s.reserve("g.p2", false),
        "at the fair share: not claimed back"
    );
    assert!(!s.should_leave("g.p9"), "not held: nothing to leave");
}

#[test]
fn a_member_going_away_raises_the_share_again() {
    let s = share(4, 2, &["g.p0", "g.p1"]);
    assert!(!s.reserve("g.p2", false));
    s.set_members(1);
    assert!(s.reserve("g.p2", false));
    assert!(s.reserve("g.p3", false));
    assert_eq!(s.view().held.len(), 4);
}
