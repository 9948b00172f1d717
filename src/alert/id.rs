//! Deterministic alert ids: the same input gives the same ids, in replay and live,
//! so receivers can drop the duplicates at-least-once delivery implies.

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::Xxh3;

/// The id of an incident: a hash of what opened it.
pub fn incident_id(
    detector: &str,
    group: &str,
    identity: &str,
    vault: &str,
    first_seen: DateTime<Utc>,
) -> String {
    let mut h = Xxh3::new();
    for part in [detector, group, identity, vault] {
        h.update(&(part.len() as u32).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(&first_seen.timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
    format!("kvw-{:016x}", h.digest())
}

/// The id of one revision of an incident.
pub fn alert_id(incident_id: &str, revision: u32) -> String {
    format!("{incident_id}-{revision}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = incident_id("failed_auth", "", "oid-1", "v", t);
        assert_eq!(a, incident_id("failed_auth", "", "oid-1", "v", t));
        assert_ne!(a, incident_id("failed_auth", "", "oid-2", "v", t));
        assert_ne!(
            incident_id("ab", "c", "", "", t),
            incident_id("a", "bc", "", "", t)
        );
        assert!(a.starts_with("kvw-") && a.len() == 20);
        assert_eq!(alert_id(&a, 2), format!("{a}-2"));
    }
}
