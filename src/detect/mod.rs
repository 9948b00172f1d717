//! Detection: detectors read events in event-time order and report findings; the
//! incident tracker turns findings into alerts (one per incident, plus escalations).
//!
//! A [`Detector`] is a small state machine over [`Observation`]s. It never emits an
//! [`Alert`](crate::alert::Alert) itself: it reports a [`Finding`] (what, who, where,
//! why) and the [`Engine`] decides whether that opens an incident, extends one
//! silently, or escalates one. Detectors see time only through events and
//! [`Detector::advance`], so replay and live give the same results.
//!
//! Per event the engine computes the enrichment once ([`enrichment::Geo`]), hands
//! every detector the event with the principal's baselines *as they were before the
//! event*, then lets the baselines learn from it, then drops findings that a
//! suppression covers ([`suppress`]).
//!
//! The layers, each using only those below it: the detectors (`detectors/`, one
//! folder each, and the registry listing them) and the builders (`registry.rs`) on
//! top; then what every detector uses: `definition.rs` (the file and its header),
//! `stateful.rs` (state, snapshots, memory), `examples.rs` (the files' own test
//! cases), `engine.rs`, `text.rs`; then the contract (`detector.rs`, `finding.rs`,
//! `observation.rs`), suppressions, incidents, baselines and enrichment. This file
//! only declares the modules and re-exports the names the rest of kvwatch uses.

pub mod baseline;
pub mod definition;
pub mod detector;
pub mod detectors;
pub mod engine;
pub mod enrichment;
pub mod examples;
pub mod examples_arm;
pub mod finding;
pub mod incident;
pub mod loader;
pub mod observation;
pub mod registry;
pub mod snapshot;
pub mod stateful;
pub mod suppress;
pub mod text;
pub mod windows;

pub use detector::{AlertOut, Detector, DetectorError, DetectorMemory};
pub use engine::Engine;
pub use finding::{raise, Finding};
pub use incident::{IncidentPolicy, Incidents};
pub use observation::Observation;
pub use registry::build_detectors;
