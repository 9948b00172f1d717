//! Rotation and expiry: objects written longer ago than the rotation policy, and
//! objects Key Vault says are about to expire or have expired.
//!
//! The audit log shows writes (SecretSet, SecretUpdate, SecretRestore, KeyRotate,
//! CertificateImport …) but not an object's creation date. An object written during
//! the period has a known last write. One used but never written during it was last
//! written before the period started: its age is at least the period's length, and
//! the finding says exactly that rather than inventing a date. Expiry comes from the
//! `…NearExpiryEventGridNotification` and `…ExpiredEventGridNotification` records;
//! a write after the notification (a new version) settles it.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{days, display, Check, Context, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::report::collect::Collected;
use crate::report::stats::ObjectStats;

/// `rotation.overdue`.
pub const OVERDUE: Check = Check {
    id: "rotation.overdue",
    title: "Not rotated within the rotation policy",
    practice: Practice::Rotation,
    method: "Secrets, keys and certificates whose last successful write (Set, Update, Import, Restore, Rotate …) is older than a [report] rotation_tiers tier at the end of the period; objects not written in the period count as written before it started.",
};

/// `rotation.near_expiry`.
pub const NEAR_EXPIRY: Check = Check {
    id: "rotation.near_expiry",
    title: "Near expiry, not renewed",
    practice: Practice::Rotation,
    method: "A …NearExpiryEventGridNotification with no successful write of the object after it; the expiry is estimated as the notification plus [report] expiry_notice.",
};

/// `rotation.expired`.
pub const EXPIRED: Check = Check {
    id: "rotation.expired",
    title: "Expired, not renewed",
    practice: Practice::Rotation,
    method: "A …ExpiredEventGridNotification with no successful write of the object after it.",
};

/// The evidence of [`OVERDUE`].
#[derive(Debug, Clone, Serialize)]
pub struct OverdueEvidence {
    /// The last write in the period, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_write: Option<DateTime<Utc>>,
    /// Who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// Its age at the end of the period, in days (a lower bound when not written).
    pub age_days: i64,
    /// Whether the age is a lower bound (no write in the period).
    pub age_is_lower_bound: bool,
    /// The policy tier exceeded, in days.
    pub tier_days: i64,
    /// Successful uses in the period.
    pub uses: u64,
    /// The last use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_use: Option<DateTime<Utc>>,
}

/// The evidence of [`NEAR_EXPIRY`] and [`EXPIRED`].
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryEvidence {
    /// The notification's time.
    pub notified: DateTime<Utc>,
    /// The notification.
    pub notification: &'static str,
    /// The estimated expiry (near-expiry only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_expiry: Option<DateTime<Utc>>,
    /// The last write in the period (before the notification), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_write: Option<DateTime<Utc>>,
    /// Successful uses after the notification.
    pub used_after: bool,
    /// The last use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_use: Option<DateTime<Utc>>,
}

/// Whether the object was deleted after its last write (it is gone).
fn gone(o: &ObjectStats) -> bool {
    match (o.deleted, &o.last_write) {
        (Some(d), Some((w, _))) => d >= *w,
        (Some(_), None) => true,
        _ => false,
    }
}

fn tier_severity(index: usize) -> Severity {
    match index {
        0 => Severity::Low,
        1 => Severity::Medium,
        _ => Severity::High,
    }
}

/// The highest tier `age` reaches, with its index.
fn tier_reached(tiers: &[Duration], age: Duration) -> Option<(usize, Duration)> {
    tiers
        .iter()
        .enumerate()
        .rfind(|(_, t)| age >= **t)
        .map(|(i, t)| (i, *t))
}

/// One finding per object older than a rotation tier.
pub fn overdue(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let tiers: Vec<Duration> = ctx
        .config
        .rotation_tiers
        .iter()
        .map(|t| t.as_chrono())
        .collect();
    let mut out = Vec::new();
    for (vault, v) in &c.vaults.map {
        for (name, o) in &v.objects.map {
            if !o.exists || gone(o) {
                continue;
            }
            let (age, bound) = match &o.last_write {
                Some((t, _)) => (ctx.end - *t, false),
                None => (ctx.span(), true),
            };
            let Some((index, tier)) = tier_reached(&tiers, age) else {
                continue;
            };
            let evidence = OverdueEvidence {
                last_write: o.last_write.as_ref().map(|(t, _)| *t),
                written_by: o.last_write.as_ref().map(|(_, who)| display(c, who)),
                age_days: days(age),
                age_is_lower_bound: bound,
                tier_days: days(tier),
                uses: o.uses,
                last_use: o.last_use,
            };
            let summary = match &o.last_write {
                Some((t, who)) => format!(
                    "{name} in {vault} was last written {} by {}, {} days before the end of the period: past the {}-day rotation tier.",
                    t.format("%Y-%m-%d"),
                    display(c, who),
                    days(age),
                    days(tier)
                ),
                None => format!(
                    "{name} in {vault} was not written in the period: its last write is at least {} days ago (the period's length), past the {}-day rotation tier.",
                    days(age),
                    days(tier)
                ),
            };
            out.push(Finding::new(
                OVERDUE,
                tier_severity(index),
                Subject::object(vault, name),
                summary,
                &evidence,
            ));
        }
    }
    out
}

/// Near-expiry and expired objects not renewed after the notification.
pub fn expiry(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let notice = ctx.config.expiry_notice.as_chrono();
    let mut out = Vec::new();
    for (vault, v) in &c.vaults.map {
        for (name, o) in &v.objects.map {
            let written_after =
                |t: DateTime<Utc>| o.last_write.as_ref().is_some_and(|(w, _)| *w > t);
            let deleted_after = |t: DateTime<Utc>| o.deleted.is_some_and(|d| d > t);
            let evidence = |notified: DateTime<Utc>, notification, estimated| ExpiryEvidence {
                notified,
                notification,
                estimated_expiry: estimated,
                last_write: o.last_write.as_ref().map(|(t, _)| *t),
                used_after: o.last_use.is_some_and(|u| u > notified),
                last_use: o.last_use,
            };
            if let Some(t) = o
                .expired
                .filter(|t| !written_after(*t) && !deleted_after(*t))
            {
                let e = evidence(t, "ExpiredEventGridNotification", None);
                let used = if e.used_after {
                    "; it was still used after that"
                } else {
                    ""
                };
                let summary = format!("Key Vault reported {name} in {vault} expired on {}, and no new version was written after it{used}.", t.format("%Y-%m-%d"));
                out.push(Finding::new(
                    EXPIRED,
                    Severity::High,
                    Subject::object(vault, name),
                    summary,
                    &e,
                ));
                continue;
            }
            if let Some(t) = o
                .near_expiry
                .filter(|t| !written_after(*t) && !deleted_after(*t))
            {
                let estimated = t + notice;
                let e = evidence(t, "NearExpiryEventGridNotification", Some(estimated));
                let (severity, when) = if estimated <= ctx.end {
                    (
                        Severity::High,
                        "has probably expired by the end of the period",
                    )
                } else {
                    (Severity::Medium, "expires soon")
                };
                let summary = format!(
                    "Key Vault warned on {} that {name} in {vault} is near expiry (about {}); no new version was written after the warning, so it {when}.",
                    t.format("%Y-%m-%d"),
                    estimated.format("%Y-%m-%d"),
                );
                out.push(Finding::new(
                    NEAR_EXPIRY,
                    severity,
                    Subject::object(vault, name),
                    summary,
                    &e,
                ));
            }
        }
    }
    out
}
