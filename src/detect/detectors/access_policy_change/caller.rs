//! What makes an access change by this caller more worrying, after its learning
//! period: a place it never called from, or its first change of any vault.

use super::settings::Raise;
use crate::detect::observation::Observation;

/// Aggravating facts about the caller of a change.
#[derive(Debug, Clone, Default)]
pub struct CallerContext {
    /// Severity steps they add.
    pub steps: u32,
    /// Each fact, in words.
    pub reasons: Vec<String>,
}

impl CallerContext {
    /// The reasons as a summary's tail (`; made from …`), empty when there are none.
    pub fn suffix(&self) -> String {
        if self.reasons.is_empty() {
            String::new()
        } else {
            format!("; {}", self.reasons.join("; "))
        }
    }
}

/// The caller's context (nothing while it is learning).
pub fn context(raise: &Raise, obs: &Observation<'_>) -> CallerContext {
    let mut ctx = CallerContext::default();
    if obs.learning() {
        return ctx;
    }
    if obs.profile.and_then(|p| p.knows_place(obs.geo)) == Some(false) && raise.unusual_place > 0 {
        ctx.steps += raise.unusual_place;
        ctx.reasons.push(format!(
            "made from {}, a place this caller never used",
            obs.geo.label()
        ));
    }
    if obs.profile.is_some_and(|p| p.access_changes == 0) && raise.first_access_change > 0 {
        ctx.steps += raise.first_access_change;
        let days = obs.profile.map_or(0.0, |p| p.history_days(obs.now));
        ctx.reasons.push(format!(
            "the caller never changed a vault in {days:.0} days"
        ));
    }
    ctx
}
