//! The detectors kvwatch has, one folder each, and the registry that lists them.
//!
//! A detector's folder holds everything about it: its settings (the TOML file as
//! typed sections), its state, its rules and its alert wording (summaries and next
//! steps), and imports nothing from another detector's folder. The registry is the
//! one list that the built-in definitions, the builders, their error texts, the
//! alert renderers and the tests read: adding a detector is its folder, its file in
//! `detectors/`, and one line here (CONTRIBUTING.md, "Adding a detector").

pub mod access_policy_change;
pub mod bulk_secret_retrieval;
pub mod destructive_operations;
pub mod failed_auth;
pub mod unusual_geo;

use super::definition::Registration;

/// Every detector, in the order the engine runs them (and their findings on one
/// event are reported).
pub const REGISTRY: &[Registration] = &[
    failed_auth::REGISTRATION,
    unusual_geo::REGISTRATION,
    access_policy_change::REGISTRATION,
    bulk_secret_retrieval::REGISTRATION,
    destructive_operations::REGISTRATION,
];
