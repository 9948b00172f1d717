//! Tests of `state`.

use super::*;
use crate::detect::detectors::bulk_secret_retrieval::novelty::NovelRead;
use crate::detect::detectors::bulk_secret_retrieval::rule::NAME;
use crate::detect::detectors::bulk_secret_retrieval::runs::RunSettings;
use crate::detect::stateful::{decode, encode};

fn sample() -> State {
    let mut s = State::default();
    s.history
        .get_or_insert_with(7, History::default)
        .learn_object(42);
    s.last_prune = 600;
    let mut n = Novelty::default();
    n.roll(86_400 * 3);
    n.add(
        NovelRead {
            at: 86_400 * 3 + 5,
            vault: 9,
            new_vault: true,
        },
        86_400,
        "secret/a",
        "kv",
    );
    s.novelty.insert(7, n);
    s.inventory.entry(9).or_default().learn(42);
    s.pop_novelty[1] = (12, 4);
    let rs = RunSettings {
        gap: "5m".parse().unwrap(),
        min_objects: 3,
        similarity: 0.7,
        max_kinds: 4,
        min_runs_per_kind: 2,
        presence_share: 0.5,
        max_back_to_back: 3,
        min_known_share: 0.9,
        min_unread: 5,
        size_quantile: 0.999,
        size_slack: 1.1,
    };
    let runs = s.runs.entry((7, 9)).or_default();
    for i in 0..5u64 {
        runs.read(&rs, i << 40, 100 + i as u32);
    }
    runs.close_idle(&rs, 10_000);
    assert_eq!(runs.learned, 1);
    s
}

#[test]
fn snapshots_keep_the_novelty_and_older_ones_still_load() {
    let s = sample();
    let back = State::restored(decode(NAME, &encode(&s.saved())).unwrap());
    assert_eq!(back.novelty, s.novelty);
    assert_eq!(back.inventory, s.inventory);
    assert_eq!(back.pop_novelty, s.pop_novelty);
    assert!(back.history.get(7).is_some_and(|h| h.knows(42)));
    assert_eq!(back.runs, s.runs);
    // Builds before the runs saved the state and the novelty.
    let (old, novelty, _) = s.saved();
    let back = State::restored(decode(NAME, &encode(&(&old, &novelty))).unwrap());
    assert_eq!(back.novelty, s.novelty);
    assert!(back.runs.is_empty());
    // Older builds saved the rest alone, binary (format 2) and JSON (format 1).
    for bytes in [encode(&old), serde_json::to_vec(&old).unwrap()] {
        let back = State::restored(decode(NAME, &bytes).unwrap());
        assert!(back.history.get(7).is_some_and(|h| h.knows(42)));
        assert_eq!(back.last_prune, 600);
        assert!(back.novelty.is_empty() && back.inventory.is_empty());
        assert!(back.runs.is_empty());
    }
}
