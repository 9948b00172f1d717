//! Open-file descriptors: a run holds its inputs, the state and outbox files, the
//! sinks' and Event Hubs' sockets and the metrics endpoint's connections at once,
//! and running out of them must never cost an input or a delivery.
//!
//! At start the soft limit is raised to the hard limit (the default soft limit, often
//! 1024, is a leftover of `select(2)`); then the metrics endpoint, the only part whose
//! descriptors strangers decide, is allowed connections only out of what is left
//! after [`RESERVED`] for the pipeline.

use rustix::process::{getrlimit, setrlimit, Resource};

/// Descriptors kept for the pipeline whatever the metrics endpoint does: inputs read
/// at once, the state and outbox files, sink and Event Hubs connections, runtimes.
pub const RESERVED: u64 = 256;

/// Raises the soft open-file limit to the hard one; returns the soft limit now in
/// force (`None`: unlimited). A refusal leaves the limit as it was.
pub fn raise_limit() -> Option<u64> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!("cannot raise the open-file limit: {e}");
        }
    }
    soft_limit()
}

/// The soft open-file limit in force (`None`: unlimited).
pub fn soft_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// How many connections the metrics endpoint may hold: what the config allows, but
/// at most half of what is left after [`RESERVED`] under `limit`, and at least one.
pub fn metrics_connections(configured: usize, limit: Option<u64>) -> usize {
    match limit {
        None => configured,
        Some(limit) => {
            let spare = limit.saturating_sub(RESERVED) / 2;
            configured.min(usize::try_from(spare).unwrap_or(usize::MAX).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_gets_what_the_pipeline_does_not_need() {
        assert_eq!(metrics_connections(32, None), 32);
        assert_eq!(metrics_connections(32, Some(1024)), 32);
        assert_eq!(metrics_connections(32, Some(300)), 22);
        assert_eq!(metrics_connections(32, Some(100)), 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let hard = getrlimit(Resource::Nofile).maximum;
        assert_eq!(raise_limit(), hard);
    }
}
