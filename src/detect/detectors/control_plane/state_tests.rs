//! Tests of `state`.

use super::*;
use crate::detect::snapshot::{decode_part, encode_part};

/// [`Saved`] as builds before the hours wrote it.
#[derive(Serialize)]
struct SavedBeforeHours {
    granters: Vec<(u128, Granter)>,
    known: Vec<(u64, u32)>,
    pending: Vec<(u128, Pending)>,
    places: Vec<(String, Place)>,
    settings: Vec<(u64, Vec<String>)>,
}

#[test]
fn hours_survive_a_snapshot_and_older_snapshots_load_without_them() {
    let mut state = State::default();
    state.granters.insert(
        7,
        Granter {
            grants: 3,
            last: 50,
        },
    );
    state.hours.entry(7).or_default().add(10 * 3600 + 5);
    let mut pulse = Pulse::new(3600);
    pulse.add(3700);
    state.pulses.insert(11, pulse);
    state.watches.insert(
        11,
        Watch {
            vault: "kv-a".into(),
            at: 3800,
            due: 5600,
            ..Watch::default()
        },
    );
    let back = State::restored(decode_part(&encode_part(&state.saved())).unwrap());
    assert_eq!(back.hours.get(&7), state.hours.get(&7));
    assert_eq!(back.pulses.get(&11), state.pulses.get(&11));
    assert_eq!(back.watches.get(&11).map(|w| w.due), Some(5600));
    assert_eq!(back.next_due, 5600, "the earliest watch is due again");

    let older = SavedBeforeHours {
        granters: vec![(
            7,
            Granter {
                grants: 3,
                last: 50,
            },
        )],
        known: vec![(1, 2)],
        pending: Vec::new(),
        places: Vec::new(),
        settings: vec![(9, vec!["audit".to_owned()])],
    };
    let back = State::restored(decode_part(&encode_part(&older)).unwrap());
    assert_eq!(back.granters.get(&7).map(|g| g.grants), Some(3));
    assert_eq!(back.settings.get(&9).map(Vec::len), Some(1));
    assert!(back.hours.is_empty());
    assert!(back.pulses.is_empty() && back.watches.is_empty());
    assert_eq!(back.next_due, u32::MAX);
    let json = serde_json::to_vec(&older).unwrap();
    let back = State::restored(decode_part(&json).unwrap());
    assert_eq!(back.known.get(&1), Some(&2), "a format 1 (JSON) part");
}
