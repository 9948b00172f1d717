//! kvwatch: watches Azure Key Vault audit logs and tells a SOC, within seconds, when a
//! vault is being attacked.
//!
//! The crate follows the data flow: [`source`] reads bytes (files, Event Hubs),
//! [`decode`] turns every log shape into one [`event::AuditEvent`], [`pipeline`]
//! drops duplicates and orders events by event time, [`detect`] keeps baselines and
//! raises findings, [`alert`] turns them into the alert contract and [`sink`] delivers
//! them. [`config`], [`metrics`] and [`clock`] (the injected wall clock) sit beside the
//! flow; [`state`] keeps the live checkpoints; [`coordinate`] shares them (and the hubs)
//! between instances through Azure Blob Storage; [`report`] turns a replay into an
//! investigator's report; [`cli`] is
//! the thin edge.

pub mod alert;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod coordinate;
pub mod decode;
pub mod detect;
pub mod embedded_hub;
pub mod enrich;
pub mod escape;
pub mod event;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod simulate;
pub mod sink;
pub mod source;
pub mod state;
