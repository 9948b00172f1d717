//! Coordination metrics: which role this instance plays (active, standby, or lost),
//! how its ownership renewals go, whether its fence lets it deliver, and how its
//! commits to Blob Storage go.
//!
//! An operator running two or three replicas needs to see at a glance that exactly
//! one is active, that renewals succeed, and how long commits take; a paused fence
//! means alerts are waiting in the outbox. Every label is a closed set, so every
//! series exists from the start (at 0) and dashboards and alerts never meet a
//! missing series.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::coordinate::{FenceState, Role};

/// A renewal round's result (`result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalResult {
    /// Every ownership blob renewed.
    Ok,
    /// Some blob could not be renewed (storage unreachable, throttled …).
    Failed,
    /// Another owner holds a blob now.
    Stolen,
}

/// A commit's result (`result` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitResult {
    /// Committed.
    Ok,
    /// Not committed, retried at the next interval.
    Failed,
    /// Refused because a newer owner took over (or the ownership expired).
    Fenced,
}

const ROLES: [&str; 3] = ["active", "standby", "lost"];
const FENCE_STATES: [&str; 3] = ["open", "paused", "lost"];

/// The coordination families.
#[derive(Clone)]
pub struct CoordinationMetrics {
    role: IntGaugeVec,
    renewals: IntCounterVec,
    fence: IntGaugeVec,
    commits: IntCounterVec,
    commit_seconds: Histogram,
    snapshot_bytes: IntGauge,
    epoch: IntGauge,
    partitions_held: IntGauge,
    members: IntGauge,
    /// `false` for one partition's run in balanced mode: the group-wide gauges
    /// (role, fence, epoch, snapshot size) are the balancer's to set.
    whole_group: bool,
}

impl CoordinationMetrics {
    /// Creates the families and registers them.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let role = IntGaugeVec::new(
            Opts::new(
                "kvwatch_coordination_role",
                "1 for the role this instance plays in its coordination group (active, standby, lost); all 0 without [coordination].",
            ),
            &["role"],
        )?;
        r.register(Box::new(role.clone()))?;
        let renewals = IntCounterVec::new(
            Opts::new(
                "kvwatch_coordination_renewals_total",
                "Ownership renewal rounds by result: ok, failed (delivery paused), stolen (ownership lost).",
            ),
            &["result"],
        )?;
        r.register(Box::new(renewals.clone()))?;
        let fence = IntGaugeVec::new(
            Opts::new(
                "kvwatch_coordination_fence",
                "1 for the fence's state: open (delivering), paused (a renewal failed; alerts wait in the outbox), lost.",
            ),
            &["state"],
        )?;
        r.register(Box::new(fence.clone()))?;
        let commits = IntCounterVec::new(
            Opts::new(
                "kvwatch_coordination_commits_total",
                "State commits to Blob Storage by result: ok, failed (retried), fenced (a newer owner took over).",
            ),
            &["result"],
        )?;
        r.register(Box::new(commits.clone()))?;
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "kvwatch_coordination_commit_duration_seconds",
                "How long one commit took: snapshot, manifest, checkpoint mirrors and snapshot collection.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        r.register(Box::new(commit_seconds.clone()))?;
        let snapshot_bytes = IntGauge::with_opts(Opts::new(
            "kvwatch_coordination_snapshot_bytes",
            "Size of the last committed state snapshot (compressed).",
        ))?;
        r.register(Box::new(snapshot_bytes.clone()))?;
        let epoch = IntGauge::with_opts(Opts::new(
            "kvwatch_coordination_epoch",
            "The coordination epoch this instance took its group over with (also its Event Hubs owner level); 0 before.",
        ))?;
        r.register(Box::new(epoch.clone()))?;
        let partitions_held = IntGauge::with_opts(Opts::new(
            "kvwatch_coordination_partitions_held",
            "Partitions this instance holds: all of its group when active, its share in balanced mode; 0 as a standby.",
        ))?;
        r.register(Box::new(partitions_held.clone()))?;
        let members = IntGauge::with_opts(Opts::new(
            "kvwatch_coordination_members",
            "Balanced mode: live instances of the group seen at the last heartbeat (this one included); 0 otherwise.",
        ))?;
        r.register(Box::new(members.clone()))?;
        for role_name in ROLES {
            role.with_label_values(&[role_name]).set(0);
        }
        for state in FENCE_STATES {
            fence.with_label_values(&[state]).set(0);
        }
        for result in ["ok", "failed", "stolen"] {
            renewals.with_label_values(&[result]);
        }
        for result in ["ok", "failed", "fenced"] {
            commits.with_label_values(&[result]);
        }
        Ok(CoordinationMetrics {
            role,
            renewals,
            fence,
            commits,
            commit_seconds,
            snapshot_bytes,
            epoch,
            partitions_held,
            members,
            whole_group: true,
        })
    }

    /// The same families for one partition's run in balanced mode: its renewals and
    /// commits count, the group-wide gauges are left to [`CoordinationMetrics::balance`].
    pub fn for_partition(&self) -> CoordinationMetrics {
        CoordinationMetrics {
            whole_group: false,
            ..self.clone()
        }
    }

    /// Balanced mode: the instance's share (active while it holds a partition).
    pub fn balance(&self, view: &crate::coordinate::ShareView) {
        let held = view.held.len();
        self.partitions_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
        self.members
            .set(i64::try_from(view.members).unwrap_or(i64::MAX));
        self.set_role(if held > 0 {
            Role::Active
        } else {
            Role::Standby
        });
    }

    /// Sets the role.
    pub fn role(&self, role: Role) {
        if self.whole_group {
            self.set_role(role);
            if role != Role::Active {
                self.partitions_held.set(0);
            }
        }
    }

    /// The whole group's partitions are held (active/standby mode).
    pub fn held(&self, partitions: usize) {
        if self.whole_group {
            self.partitions_held
                .set(i64::try_from(partitions).unwrap_or(i64::MAX));
        }
    }

    fn set_role(&self, role: Role) {
        let now = match role {
            Role::Active => "active",
            Role::Standby => "standby",
            Role::Lost => "lost",
        };
        for name in ROLES {
            self.role
                .with_label_values(&[name])
                .set(i64::from(name == now));
        }
    }

    /// Counts a renewal round.
    pub fn renewal(&self, result: RenewalResult) {
        let label = match result {
            RenewalResult::Ok => "ok",
            RenewalResult::Failed => "failed",
            RenewalResult::Stolen => "stolen",
        };
        self.renewals.with_label_values(&[label]).inc();
    }

    /// Sets the fence state.
    pub fn fence(&self, state: &FenceState) {
        if !self.whole_group {
            return;
        }
        let now = match state {
            FenceState::Open => "open",
            FenceState::Paused { .. } => "paused",
            FenceState::Lost(_) => "lost",
        };
        for name in FENCE_STATES {
            self.fence
                .with_label_values(&[name])
                .set(i64::from(name == now));
        }
    }

    /// Counts a commit and times it.
    pub fn commit(&self, result: CommitResult, took: Duration) {
        let label = match result {
            CommitResult::Ok => "ok",
            CommitResult::Failed => "failed",
            CommitResult::Fenced => "fenced",
        };
        self.commits.with_label_values(&[label]).inc();
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Sets the last snapshot's size.
    pub fn snapshot_bytes(&self, bytes: u64) {
        if !self.whole_group {
            return;
        }
        self.snapshot_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Sets the epoch.
    pub fn epoch(&self, epoch: u64) {
        if !self.whole_group {
            return;
        }
        self.epoch.set(i64::try_from(epoch).unwrap_or(i64::MAX));
    }

    /// The value of one series, for tests and status pages: `family` is `role`,
    /// `fence`, `renewals` or `commits`, `label` the label value.
    pub fn value(&self, family: &str, label: &str) -> Option<i64> {
        match family {
            "role" => Some(self.role.with_label_values(&[label]).get()),
            "fence" => Some(self.fence.with_label_values(&[label]).get()),
            "renewals" => i64::try_from(self.renewals.with_label_values(&[label]).get()).ok(),
            "commits" => i64::try_from(self.commits.with_label_values(&[label]).get()).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_fence_states_are_one_hot_and_every_series_exists() {
        let r = Registry::new();
        let m = CoordinationMetrics::register(&r).unwrap();
        let text = {
            let mut out = Vec::new();
            prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &r.gather(), &mut out)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        for series in [
            "kvwatch_coordination_role{role=\"standby\"} 0",
            "kvwatch_coordination_renewals_total{result=\"stolen\"} 0",
            "kvwatch_coordination_commits_total{result=\"fenced\"} 0",
            "kvwatch_coordination_fence{state=\"paused\"} 0",
            "kvwatch_coordination_epoch 0",
        ] {
            assert!(text.contains(series), "{series} missing from\n{text}");
        }
        m.role(Role::Standby);
        m.role(Role::Active);
        assert_eq!(
            ROLES.map(|r| m.value("role", r)),
            [Some(1), Some(0), Some(0)]
        );
        m.fence(&FenceState::Paused { reason: "x".into() });
        assert_eq!(
            FENCE_STATES.map(|s| m.value("fence", s)),
            [Some(0), Some(1), Some(0)]
        );
        m.renewal(RenewalResult::Failed);
        m.commit(CommitResult::Ok, Duration::from_millis(20));
        assert_eq!(m.value("renewals", "failed"), Some(1));
        assert_eq!(m.value("commits", "ok"), Some(1));
    }
}
