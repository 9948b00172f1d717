//! Where coordination keeps what, in the container: the Event Hubs checkpoint-store
//! layout other tools read, and kvwatch's own blobs beside it.
//!
//! ```text
//! {namespace}/{hub}/{consumer group}/ownership/{partition}   empty; ownerid=…
//! {namespace}/{hub}/{consumer group}/checkpoint/{partition}  empty; sequencenumber=…, offset=…
//! kvwatch/{group}/manifest                                  JSON: the commit point
//! kvwatch/{group}/state/{epoch:016}-{commit:016}            a state snapshot
//! ```
//!
//! The first two are what the Event Hubs SDKs' blob checkpoint stores (.NET, Java,
//! Python, Go, JavaScript, Rust) read and write. Namespace, hub and consumer group are
//! lowercased, as .NET and Python do (Azure names are case-insensitive; Go and Rust
//! keep the case they are given, so a processor of theirs configured in mixed case
//! would not find these blobs). Java's and Go's listers take the partition id as
//! the segment after `ownership/` or `checkpoint/`, so nothing else of ours lives
//! there. Metadata keys are lowercase (.NET rejects others), and both `sequencenumber`
//! and `offset` are always written (Java and Go fail on a missing one).

use std::fmt;

/// Metadata: the owner of a partition (`""` when released).
pub const OWNER_ID: &str = "ownerid";
/// Metadata: a checkpoint's sequence number (decimal).
pub const SEQUENCE_NUMBER: &str = "sequencenumber";
/// Metadata: a checkpoint's offset (as the service gives it).
pub const OFFSET: &str = "offset";
/// Metadata: the format of a kvwatch blob (`kvwatch-state/1`, `kvwatch-coordination/1`).
pub const FORMAT: &str = "kvwatchformat";

/// One partition of one hub, read through one consumer group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionRef {
    /// The fully qualified namespace (`ns.servicebus.windows.net`).
    pub namespace: String,
    /// The hub.
    pub hub: String,
    /// The consumer group.
    pub consumer_group: String,
    /// The partition id.
    pub partition: String,
}

impl PartitionRef {
    /// A partition, its names lowercased (the partition id is kept as given).
    pub fn new(namespace: &str, hub: &str, consumer_group: &str, partition: &str) -> Self {
        PartitionRef {
            namespace: namespace.trim().to_ascii_lowercase(),
            hub: hub.trim().to_ascii_lowercase(),
            consumer_group: consumer_group.trim().to_ascii_lowercase(),
            partition: partition.trim().to_owned(),
        }
    }

    fn prefix(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.hub, self.consumer_group)
    }

    /// Its ownership blob.
    pub fn ownership_blob(&self) -> String {
        format!("{}/ownership/{}", self.prefix(), self.partition)
    }

    /// Its checkpoint blob.
    pub fn checkpoint_blob(&self) -> String {
        format!("{}/checkpoint/{}", self.prefix(), self.partition)
    }

    /// The key kvwatch's state uses for it (see `state::partition_key`).
    pub fn key(&self) -> String {
        crate::state::partition_key(
            &self.namespace,
            &self.hub,
            &self.consumer_group,
            &self.partition,
        )
    }
}

impl fmt::Display for PartitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.prefix(), self.partition)
    }
}

/// The blobs of one ownership group (the partitions one `kvwatch run` config
/// reads, owned all or nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLayout {
    group: String,
}

impl GroupLayout {
    /// The layout of `group` (checked by [`check_group_name`]).
    pub fn new(group: &str) -> Result<GroupLayout, String> {
        check_group_name(group)?;
        Ok(GroupLayout {
            group: group.to_owned(),
        })
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The manifest blob.
    pub fn manifest_blob(&self) -> String {
        format!("kvwatch/{}/manifest", self.group)
    }

    /// The prefix of the group's snapshots.
    pub fn snapshot_prefix(&self) -> String {
        format!("kvwatch/{}/state/", self.group)
    }

    /// The snapshot written at `commit` under `epoch`. Zero-padded, so names sort
    /// as (epoch, commit) do.
    pub fn snapshot_blob(&self, epoch: u64, commit: u64) -> String {
        format!("{}{epoch:016}-{commit:016}", self.snapshot_prefix())
    }

    /// Where the instances of a balanced group say they are alive: one blob per
    /// instance, rewritten at every renewal.
    pub fn members_prefix(&self) -> String {
        format!("kvwatch/{}/members/", self.group)
    }

    /// This instance's membership blob.
    pub fn member_blob(&self, owner_id: &str) -> String {
        format!("{}{owner_id}", self.members_prefix())
    }

    /// The group of one partition in balanced mode: `{group}.p{partition}`.
    pub fn partition_group(&self, partition: &str) -> Result<GroupLayout, String> {
        GroupLayout::new(&format!(
            "{}.p{}",
            self.group,
            partition.to_ascii_lowercase()
        ))
    }

    /// The (epoch, commit) of a snapshot blob of this group, if it is one.
    pub fn parse_snapshot_blob(&self, name: &str) -> Option<(u64, u64)> {
        let rest = name.strip_prefix(&self.snapshot_prefix())?;
        let (epoch, commit) = rest.split_once('-')?;
        if epoch.len() != 16 || commit.len() != 16 {
            return None;
        }
        Some((epoch.parse().ok()?, commit.parse().ok()?))
    }
}

/// Group names: 1 to 63 of `a-z`, `0-9`, `-`, `_`, `.` (they become one path segment).
pub fn check_group_name(group: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&group.len())
        && group.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
        && group != "."
        && group != "..";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "group {group:?}: 1 to 63 of lowercase letters, digits, '-', '_' and '.'"
        ))
    }
}

/// The sorted, de-duplicated partitions: the order claims are made in, so two
/// instances starting together cannot each end up with half.
pub fn claim_order(partitions: &[PartitionRef]) -> Vec<PartitionRef> {
    let mut sorted = partitions.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_names_lowercased() {
        let p = PartitionRef::new(
            "NS.ServiceBus.Windows.Net",
            "Insights-Logs",
            "$Default",
            "12",
        );
        let table = [
            (
                p.ownership_blob(),
                "ns.servicebus.windows.net/insights-logs/$default/ownership/12",
            ),
            (
                p.checkpoint_blob(),
                "ns.servicebus.windows.net/insights-logs/$default/checkpoint/12",
            ),
            (
                p.key(),
                "ns.servicebus.windows.net/insights-logs/$default/12",
            ),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn snapshot_names_sort_like_epoch_and_commit() {
        let g = GroupLayout::new("prod-a").unwrap();
        assert_eq!(g.manifest_blob(), "kvwatch/prod-a/manifest");
        let older = g.snapshot_blob(2, 99);
        let newer = g.snapshot_blob(10, 1);
        assert!(older < newer, "{older} {newer}");
        assert_eq!(g.parse_snapshot_blob(&newer), Some((10, 1)));
        assert_eq!(g.parse_snapshot_blob("kvwatch/prod-a/state/x-1"), None);
        assert_eq!(
            g.parse_snapshot_blob("kvwatch/other/state/0000000000000001-0000000000000001"),
            None
        );
        for bad in ["", "Prod", "a/b", "..", &"x".repeat(64)] {
            assert!(GroupLayout::new(bad).is_err(), "{bad}");
        }
    }
}
