//! `bulk_secret_retrieval`: a principal reading many distinct secrets, certificates or
//! backups, in minutes (a dump) or over hours (low and slow).
//!
//! Fixed daily counts page analysts for every busy app; kvwatch counts *distinct*
//! objects per principal and vault in two sliding windows and compares the count with
//! what that principal did before, in the same hour of the day and from the same
//! place (after its learning period), or with its kind's population (before). An app
//! restart re-reading its usual secrets, a deploy pipeline and a nightly backup job
//! are normal because they did the same before; the same backup identity reading at
//! another hour or from another place is not. `List` then `Get`, and 429 throttling,
//! raise the severity.
//!
//! The slow thief reads a few objects it never read every hour, across vaults: no
//! window of one vault looks unusual, its day does (`daily_novelty`: objects new to
//! the principal over a day, against its own usual day). A principal still learning
//! is judged against its kind only when it reads a large share of the vault's known
//! inventory or lists it first: an application booting reads its own subset.
//!
//! A workload's baseline is its run-to-run distribution, not its single largest
//! window: a release pipeline running two or three of its release definitions back to
//! back reads more than ever in one window, but only objects its earlier runs read,
//! each kind of run about its usual size (`runs.rs`, `runs_judge.rs`).
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (episodes and histories),
//! `count.rs` (counting) and `judge.rs` (the judgement), `novelty.rs` and
//! `novelty_judge.rs` (the day's novelty and vault inventories), `wording.rs`
//! (summaries and next steps), `rule.rs` (the names alerts carry, and the two windows).

mod count;
mod judge;
pub mod novelty;
mod novelty_judge;
pub mod rule;
pub mod runs;
mod runs_judge;
pub mod settings;
pub mod state;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;

use crate::config::SuppressConfig;
use crate::detect::definition::{Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::finding::Finding;
use crate::detect::loader;
use crate::detect::observation::Observation;
use crate::detect::stateful::Rules;

/// `bulk_secret_retrieval` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/bulk_secret_retrieval.toml",
    text: include_str!("../../../../detectors/bulk_secret_retrieval.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of a `bulk_secret_retrieval` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    loader::load(src, suppress, |f: &File| BulkRetrieval {
        s: Settings::of(f),
    })
}

/// The rules of `bulk_secret_retrieval`.
#[derive(Debug, Clone)]
pub struct BulkRetrieval {
    s: Settings,
}

impl Rules for BulkRetrieval {
    const NAME: &'static str = NAME;
    type State = State;

    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        count::observe(&self.s, state, obs, findings);
    }
}
