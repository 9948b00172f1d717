//! Parsing of the link addresses that Event Hubs clients attach to.
//!
//! The Rust SDK puts whole URLs in its link addresses
//! (`amqps://<namespace>/<hub>/ConsumerGroups/<cg>/Partitions/<n>`), other
//! clients send bare paths (`<hub>/Partitions/<n>`). Both are accepted: only
//! the path counts, and the path keywords are matched without regard to case,
//! as the service does.

/// The claims-based-security node that takes `put-token` requests.
pub(crate) const CBS_NODE: &str = "$cbs";

/// The management node that answers `READ` requests.
pub(crate) const MANAGEMENT_NODE: &str = "$management";

/// What a link address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// The `$cbs` node.
    Cbs,
    /// The `$management` node.
    Management,
    /// An Event Hub, optionally pinned to one partition (a sender target).
    Hub {
        hub: String,
        partition: Option<String>,
    },
    /// One partition seen through one consumer group (a receiver source).
    ConsumerPartition {
        hub: String,
        consumer_group: String,
        partition: String,
    },
    /// Any other address, kept so that the refusal can name it.
    Unknown(String),
}

impl Address {
    /// Parses a link address, with or without the `scheme://host` prefix.
    pub(crate) fn parse(raw: &str) -> Self {
        let path = strip_authority(raw).trim_matches('/');
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [node] if *node == CBS_NODE => Self::Cbs,
            [node] if *node == MANAGEMENT_NODE => Self::Management,
            // The SDK authorizes `<hub>/$management` and may name it as a node.
            [_, node] if *node == MANAGEMENT_NODE => Self::Management,
            [hub] => Self::Hub {
                hub: (*hub).to_string(),
                partition: None,
            },
            [hub, keyword, partition] if keyword.eq_ignore_ascii_case("Partitions") => Self::Hub {
                hub: (*hub).to_string(),
                partition: Some((*partition).to_string()),
            },
            [hub, groups, consumer_group, partitions, partition]
                if groups.eq_ignore_ascii_case("ConsumerGroups")
                    && partitions.eq_ignore_ascii_case("Partitions") =>
            {
                Self::ConsumerPartition {
                    hub: (*hub).to_string(),
                    consumer_group: (*consumer_group).to_string(),
                    partition: (*partition).to_string(),
                }
            }
            _ => Self::Unknown(raw.to_string()),
        }
    }
}

/// The path of a link address or token audience, as the hub compares them: without
/// scheme and host, without leading or trailing `/`, lowercase (hub, consumer group
/// and path keywords are case-insensitive on the service).
pub(crate) fn normalized_path(raw: &str) -> String {
    strip_authority(raw).trim_matches('/').to_lowercase()
}

/// Returns the path of `raw` when it is a URL, or `raw` itself otherwise.
fn strip_authority(raw: &str) -> &str {
    match raw.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_receiver_source() {
        let address =
            Address::parse("amqps://ns.example/hub-a/ConsumerGroups/$Default/Partitions/3");
        assert_eq!(
            address,
            Address::ConsumerPartition {
                hub: "hub-a".into(),
                consumer_group: "$Default".into(),
                partition: "3".into(),
            }
        );
    }

    #[test]
    fn parses_sender_targets_and_nodes() {
        assert_eq!(
            Address::parse("amqps://ns.example/hub-a"),
            Address::Hub {
                hub: "hub-a".into(),
                partition: None
            }
        );
        assert_eq!(
            Address::parse("hub-a/partitions/1"),
            Address::Hub {
                hub: "hub-a".into(),
                partition: Some("1".into())
            }
        );
        assert_eq!(Address::parse("$cbs"), Address::Cbs);
        assert_eq!(Address::parse("$management"), Address::Management);
        assert!(matches!(
            Address::parse("amqps://ns.example/"),
            Address::Unknown(_)
        ));
    }

    #[test]
    fn normalizes_paths_for_comparison() {
        assert_eq!(
            normalized_path("amqps://ns.example/Hub-A/ConsumerGroups/$Default/Partitions/3"),
            "hub-a/consumergroups/$default/partitions/3"
        );
        assert_eq!(normalized_path("hub-a/"), "hub-a");
        assert_eq!(normalized_path("amqps://ns.example"), "");
    }
}
