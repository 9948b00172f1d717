//! Tests of `borrowed`.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn networks_are_slash_24_and_slash_48_and_bounded() {
    assert_eq!(prefix_text(prefix_of(ip("20.50.7.9"))), "20.50.7.0/24");
    assert_eq!(
        prefix_of(ip("::ffff:20.50.7.9")),
        prefix_of(ip("20.50.7.1"))
    );
    assert_eq!(
        prefix_text(prefix_of(ip("2001:db8:1:2::5"))),
        "2001:db8:1::/48"
    );
    let mut w = Workload::default();
    assert!(!w.call_from(ip("20.50.7.9"), None, 100, 1800));
    assert!(!w.call_from(ip("20.50.7.200"), None, 200, 1800));
    assert!(w.call_from(ip("20.50.8.1"), Some(8075), 300, 1800));
    assert!(w.tumble_net);
    // Still new within the window, no longer after it.
    assert!(w.call_from(ip("20.50.8.2"), None, 2000, 1800));
    assert!(!w.call_from(ip("20.50.8.2"), None, 2200, 1800));
    assert_eq!(w.knows_asn(8075, prefix_of(ip("20.50.8.1"))), Some(false));
    assert_eq!(w.knows_asn(0, prefix_of(ip("20.50.8.1"))), None);
    for i in 0..20u32 {
        w.call_from(IpAddr::from([10, 0, i as u8, 1]), None, 400 + i, 1800);
    }
    assert_eq!(w.networks.len(), MAX_NETWORKS);
    // The least recently used went first.
    assert!(!w
        .networks
        .iter()
        .any(|n| n.net == prefix_of(ip("20.50.7.0"))));
    assert!(
        std::mem::size_of::<Workload>() <= 112,
        "{}",
        std::mem::size_of::<Workload>()
    );
}

#[test]
fn windows_count_once_settled() {
    let mut w = Workload::default();
    w.roll(10, 1800, 3600);
    w.call_from(ip("20.50.7.9"), None, 10, 1800);
    w.tumble_new = 5;
    // The first window closes before the principal settled: not counted.
    assert_eq!(w.roll(1800, 1800, 3600), None);
    w.call_from(ip("20.50.7.9"), None, 1800, 1800);
    w.roll(5400, 1800, 3600);
    w.call_from(ip("20.50.7.9"), None, 5400, 1800);
    w.tumble_new = 2;
    w.tumble_net = true;
    assert_eq!(w.roll(9000, 1800, 3600), Some((2, true)));
    assert_eq!(
        (w.windows, w.new_sum, w.new_max, w.net_windows),
        (1, 2, 2, 1)
    );
    assert_eq!(w.net_new_sum, 2);
    assert!((w.new_network_share() - 1.0).abs() < 1e-9);
}

#[test]
fn the_object_filter_rarely_mistakes_a_new_object_for_a_known_one() {
    let mut w = Workload::default();
    for i in 0..30 {
        w.learn(object_key("secret", &format!("app-{i}"), 7));
    }
    let mistaken = (0..1000)
        .filter(|i| w.knows(object_key("secret", &format!("other-{i}"), 7)))
        .count();
    assert!(mistaken <= 50, "{mistaken} of 1000");
}

#[test]
fn objects_are_per_vault_and_clients_ignore_versions() {
    let mut w = Workload::default();
    let a = object_key("secret", "db-password", 1);
    assert!(w.learn(a));
    assert!(!w.learn(a));
    assert!(!w.knows(object_key("secret", "db-password", 2)));
    assert!(!w.knows(object_key("certificate", "db-password", 1)));
    assert_eq!(
        client_key("azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20)"),
        client_key("azsdk-net-security.keyvault.secrets/4.8.1 (.NET 9.0.1)")
    );
    assert_eq!(w.client("azsdk-net-Security.KeyVault.Secrets/4.7.0", 1), 0);
    assert_eq!(w.client("azsdk-net-Security.KeyVault.Secrets/4.8.0", 2), 0);
    assert_eq!(w.client("python-requests/2.32.3", 3), 3);
    assert_eq!(w.client("python-requests/2.32.3", 4), 3);
    // The latest other client replaces the previous one; the first stays.
    assert_eq!(w.client("curl/8.5.0", 5), 5);
    assert_eq!(w.client("python-requests/2.32.3", 6), 6);
    assert_eq!(w.client("azsdk-net-Security.KeyVault.Secrets/4.9.0", 7), 0);
}
