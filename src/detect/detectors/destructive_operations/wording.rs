//! How `destructive_operations` speaks to an analyst: the summary of each rule and
//! the next steps shown with its alerts.

use super::state::{Episode, History};
use crate::detect::observation::Observation;
use crate::detect::text::{list, plural, who};
use crate::event::KnownOperation;

/// What an analyst should do about a `destructive_operations` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Ask the principal's owner whether the deletions were planned (a change ticket, a decommissioning); if not, disable the principal now.",
    "Recover what is still soft-deleted (az keyvault secret|key|certificate recover) before the retention ends, and restore purged objects from backups.",
];

/// What the principal usually deletes (`learned`: its own history was the yardstick),
/// or why it was judged without its own history; `why` is the verdict's reason.
pub fn usual(
    own: &History,
    learned: bool,
    why: &str,
    window: &str,
    days: f64,
    learning: bool,
) -> String {
    if learned {
        format!(
            "it usually deletes at most {} per {window} ({} windows with deletions over {days:.0} days); {}",
            own.windows.max(),
            own.windows.total(),
            why
        )
    } else if !learning && own.windows.total() == 0 {
        format!("it never deleted anything in {days:.0} days; {why}")
    } else {
        let state = if learning {
            "it is new (still learning)"
        } else {
            "it rarely deletes"
        };
        format!("{state}; {why}")
    }
}

/// `bulk_delete`.
pub fn bulk_delete(
    obs: &Observation<'_>,
    a: &Episode,
    n: u32,
    purged: u32,
    span: &str,
    usual: &str,
) -> String {
    let e = obs.event;
    let addresses: Vec<String> = a.addresses.iter().map(|ip| ip.to_string()).collect();
    let purges = if purged > 0 {
        format!(", {purged} of them purged for good")
    } else {
        String::new()
    };
    format!(
        "{} deleted {} of vault {} in {span} from {} ({}){purges} ({}); {usual}; objects: {}",
        who(e),
        plural(n as usize, "object", "distinct objects"),
        e.vault,
        list(&addresses, addresses.len(), 2),
        obs.geo.label(),
        a.operations.join(", "),
        list(&a.samples, n as usize, 4)
    )
}

/// `first_purge`.
pub fn first_purge(
    obs: &Observation<'_>,
    a: &Episode,
    purged: u32,
    span: &str,
    days: f64,
) -> String {
    let e = obs.event;
    format!(
        "{}, which never purged anything in {days:.0} days, purged {} of vault {} for good in {span} from {}: soft delete no longer protects them; objects: {}",
        who(e),
        plural(purged as usize, "deleted object", "deleted objects"),
        e.vault,
        obs.geo.label(),
        list(&a.purged_samples, purged as usize, 4)
    )
}

/// `vault_delete`.
pub fn vault_delete(obs: &Observation<'_>, before: u16, days: f64) -> String {
    let e = obs.event;
    let what = if e.operation.is(KnownOperation::VaultPurge) {
        "purged"
    } else {
        "deleted"
    };
    let routine = if obs.learning() {
        "it is new (still learning)".to_owned()
    } else if before == 0 {
        format!("it never deleted a vault in {days:.0} days")
    } else {
        format!("it deleted {before} vault(s) before")
    };
    let from = e
        .caller_ip
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    format!(
        "{} {what} vault {} ({}){from} ({}); {routine}",
        who(e),
        e.vault,
        e.operation,
        obs.geo.label()
    )
}
