//! What a coordinated `kvwatch run` puts in its state snapshot, and takes back out
//! when it takes a group over: the checkpoint (watermark, each partition's position
//! with its replay cuts and the offset the standard checkpoint blob records), the
//! detectors' state, the deduplication memory, and the alerts still waiting in the
//! outbox.
//!
//! Why the undelivered alerts travel: an alert is acknowledged upstream (its
//! events' positions move on) once it is durable in the local outbox, and a lost
//! node takes its disk with it. Carrying what was still waiting at each commit lets
//! the next owner deliver it. The other choice, moving positions only past alerts a
//! receiver accepted, would hold every partition back for as long as a sink is down
//! (hours, past the hub's retention) and replay all of it afterwards. The price:
//! an alert delivered between a commit and the node's loss is delivered again by the
//! new owner, with the same id, which receivers drop; and a sink down for long grows
//! the snapshot, so the carried alerts are capped (the oldest first are kept) and
//! what does not fit is named in a warning. Dead letters stay on the node: they
//! already wait for an operator.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::coordinate::Sections;
use crate::pipeline::SavedState;
use crate::sink::outbox::{Outbox, OutboxError, Route};
use crate::state::{Checkpoint, CheckpointMeta, PartitionPosition};

/// The positions section.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Positions {
    meta: CheckpointMeta,
    partitions: BTreeMap<String, PartitionPosition>,
    /// Offsets of each partition's `resume_after` event, where known.
    offsets: BTreeMap<String, String>,
}

/// One carried alert: the alert and the sinks still waiting for it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Carried {
    alert: Alert,
    sinks: Vec<CarriedRoute>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CarriedRoute {
    sink: String,
    digest_at: Option<DateTime<Utc>>,
}

/// What a snapshot restores.
#[derive(Debug)]
pub struct Unpacked {
    /// The checkpoint (its detector and deduplication state included).
    pub checkpoint: Checkpoint,
    /// Offsets of each partition's `resume_after` event, where known.
    pub offsets: BTreeMap<String, String>,
    /// Alerts that were waiting for delivery, with their routes.
    pub carried: Vec<(Alert, Vec<Route>)>,
}

impl Unpacked {
    /// Splits off the pipeline state, moved out (not copied: the detector state is
    /// the largest thing a takeover holds), leaving the checkpoint's positions.
    pub fn take_saved(&mut self) -> SavedState {
        SavedState {
            detectors: std::mem::take(&mut self.checkpoint.detectors),
            dedup: std::mem::take(&mut self.checkpoint.dedup),
        }
    }
}

/// Packs a checkpoint and the alerts waiting for delivery. Carried alerts stop at
/// `outbox_budget` bytes; returns the sections and how many alerts were left out.
pub fn pack(
    checkpoint: &Checkpoint,
    offsets: &BTreeMap<String, String>,
    waiting: &[(Alert, Vec<Route>)],
    outbox_budget: usize,
) -> Result<(Sections, usize), serde_json::Error> {
    let positions = serde_json::to_vec(&Positions {
        meta: checkpoint.meta,
        partitions: checkpoint.partitions.clone(),
        offsets: offsets.clone(),
    })?;
    let mut outbox = Vec::new();
    let mut left_out = 0;
    for (alert, routes) in waiting {
        let line = serde_json::to_vec(&Carried {
            alert: alert.clone(),
            sinks: routes
                .iter()
                .map(|r| CarriedRoute {
                    sink: r.sink.clone(),
                    digest_at: r.digest_at,
                })
                .collect(),
        })?;
        if outbox.len() + line.len() + 1 > outbox_budget {
            left_out += 1;
            continue;
        }
        outbox.extend_from_slice(&line);
        outbox.push(b'\n');
    }
    let sections = Sections {
        positions,
        detectors: checkpoint.detectors.clone(),
        dedup: checkpoint.dedup.clone(),
        outbox,
    };
    Ok((sections, left_out))
}

/// Unpacks what [`pack`] packed, moving the state out of `sections`.
pub fn unpack(sections: Sections) -> Result<Unpacked, serde_json::Error> {
    let positions: Positions = serde_json::from_slice(&sections.positions)?;
    let mut carried = Vec::new();
    for line in sections.outbox.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let c: Carried = serde_json::from_slice(line)?;
        let routes = c
            .sinks
            .into_iter()
            .map(|r| Route {
                sink: r.sink,
                digest_at: r.digest_at,
            })
            .collect();
        carried.push((c.alert, routes));
    }
    Ok(Unpacked {
        checkpoint: Checkpoint {
            meta: positions.meta,
            partitions: positions.partitions,
            detectors: sections.detectors,
            dedup: sections.dedup,
        },
        offsets: positions.offsets,
        carried,
    })
}

/// The alerts waiting in `outbox` (not dead-lettered), oldest first, each with the
/// sinks still waiting for it.
pub fn waiting(outbox: &Outbox) -> Result<Vec<(Alert, Vec<Route>)>, OutboxError> {
    let mut by_seq: BTreeMap<u64, (Alert, Vec<Route>)> = BTreeMap::new();
    for p in outbox.list()? {
        if p.state.dead {
            continue;
        }
        let Some(alert) = p.alert else { continue };
        let route = Route {
            sink: p.sink,
            digest_at: p.state.digest.then(|| p.state.next()),
        };
        by_seq
            .entry(p.seq)
            .or_insert_with(|| (alert, Vec::new()))
            .1
            .push(route);
    }
    Ok(by_seq.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ReplayCut;

    fn alert(n: u32) -> Alert {
        crate::sink::sample::alert(n, crate::alert::Severity::High)
    }

    #[test]
    fn a_checkpoint_and_its_waiting_alerts_round_trip_within_the_budget() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let checkpoint = Checkpoint {
            meta: CheckpointMeta {
                watermark: Some(t),
                released_up_to: Some(t),
                written_at: Some(t),
            },
            partitions: BTreeMap::from([(
                "ns/hub/cg/0".to_owned(),
                PartitionPosition {
                    resume_after: Some(41),
                    replay: vec![ReplayCut {
                        through: 44,
                        watermark: t,
                    }],
                },
            )]),
            detectors: b"detectors".to_vec(),
            dedup: b"dedup".to_vec(),
        };
        let offsets = BTreeMap::from([("ns/hub/cg/0".to_owned(), "8192".to_owned())]);
        let routes = vec![
            Route {
                sink: "soc".into(),
                digest_at: None,
            },
            Route {
                sink: "mail".into(),
                digest_at: Some(t),
            },
        ];
        let waiting = vec![(alert(1), routes.clone()), (alert(2), routes.clone())];
        let (sections, left_out) = pack(&checkpoint, &offsets, &waiting, 1 << 20).unwrap();
        assert_eq!(left_out, 0);
        let back = unpack(sections).unwrap();
        assert_eq!(back.checkpoint, checkpoint);
        assert_eq!(back.offsets, offsets);
        assert_eq!(back.carried, waiting);

        let one = serde_json::to_vec(&alert(1)).unwrap().len() + 200;
        let (sections, left_out) = pack(&checkpoint, &offsets, &waiting, one).unwrap();
        assert_eq!(left_out, 1, "the second alert does not fit the budget");
        assert_eq!(unpack(sections).unwrap().carried, waiting[..1]);
    }
}
