//! The commands, assembled from the library's parts: each wires a source to the shared
//! pipeline and its sinks. The CLI parses and validates arguments, then calls here.

pub mod delivery;
pub mod descriptors;
pub mod embedded;
pub mod ingest;
pub mod live;
pub mod live_balanced;
mod live_balanced_parts;
pub mod live_coordination;
pub mod live_pipeline;
mod live_resume;
mod live_serve;
pub mod live_snapshot;
pub mod live_status;
pub mod metrics;
pub mod progress;
pub mod replay;
pub mod report;
pub mod route;
mod route_publish;
mod route_serve;
pub mod stream;
pub mod summary;
