//! How `bulk_secret_retrieval` speaks to an analyst: the summary of a finding and the
//! next steps shown with its alerts.

use super::state::Active;
use crate::detect::observation::Observation;
use crate::detect::text::{list, who};
use crate::event::ObjectKind;

/// What an analyst should do about a `bulk_secret_retrieval` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Treat every secret read in the window as exposed until shown otherwise.",
    "Rotate those secrets and disable the principal if the reads were not expected.",
];

/// The reads a finding is about.
pub struct Episode {
    /// Distinct objects in the window.
    pub n: u32,
    /// The window's length (`10m`).
    pub window: String,
    /// The reads' span within the window, in words.
    pub span: String,
    /// The caller addresses (first ones).
    pub addresses: Vec<String>,
    /// Days of the principal's history.
    pub history_days: f64,
}

/// The principal's usual volume, once it has history.
pub fn usual(e: &Episode, quantile_count: u32, quantile: f64) -> String {
    format!(
        "its usual is ≤ {quantile_count} per {} (p{:.0} over {:.0} days)",
        e.window,
        quantile * 100.0,
        e.history_days
    )
}

/// A principal without history of its own: why it was judged anyway.
pub fn new_principal(learning: bool, why: &str) -> String {
    format!(
        "it is new ({}); {why}",
        if learning {
            "still learning"
        } else {
            "little history"
        }
    )
}

/// The summary: who read how many of what, where from, against what, and what
/// aggravates it (`reason` only when judged against the principal's own history).
pub fn summary(
    obs: &Observation<'_>,
    a: &Active,
    e: &Episode,
    usual: &str,
    reason: Option<&String>,
    boosters: &[String],
) -> String {
    let ev = obs.event;
    let noun = match ev.object.as_ref().map(|o| o.kind) {
        Some(ObjectKind::Key) => "keys",
        Some(ObjectKind::Certificate) => "certificates",
        _ => "secrets",
    };
    let mut summary = format!(
        "{} read {} distinct {noun} of vault {} in {} from {} ({}); {usual}",
        who(ev),
        e.n,
        ev.vault,
        e.span,
        list(&e.addresses, e.addresses.len(), 2),
        obs.geo.label()
    );
    if let Some(why) = reason {
        summary.push_str(&format!("; {why}"));
    }
    for b in boosters {
        summary.push_str(&format!("; {b}"));
    }
    summary.push_str(&format!("; objects: {}", list(&a.samples, e.n as usize, 4)));
    summary
}
