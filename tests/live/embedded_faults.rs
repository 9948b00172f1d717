//! `kvwatch run` survives what the Event Hubs service does to its clients, injected
//! into the embedded hub: receivers detached by the service, connections closed by it
//! or dropped, tokens expiring (all at once, or every few seconds because the hub
//! honours them only briefly), and the SDK refreshing short-lived tokens. In each case
//! the fault is checked to have happened, the readers to have come back, and the
//! webhook to have received exactly the alerts of an uninterrupted run, each once,
//! with every body taken exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::live_support::*;
use azure_core::credentials::TokenCredential;
use chrono::DateTime;
use kvwatch::alert::Alert;
use kvwatch::embedded_hub::{EmbeddedHub, HubCredential, HubStats, DEFAULT_NAMESPACE};

const HUB: &str = "audit";

/// Every id once, and the set the reference gives, field for field.
pub fn assert_exactly(got: &[Alert], expected: &[Alert]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in got {
        *counts.entry(a.id.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "alerts delivered twice: {doubled:?}");
    assert_eq!(
        ids(got),
        ids(expected),
        "the alerts of an uninterrupted run"
    );
    for a in expected {
        assert!(got.contains(a), "same content: {a:?}");
    }
}

/// A fault, how much it must touch, and when the hub shows it was lived through.
struct Fault<'a> {
    name: &'a str,
    inject: &'a dyn Fn(&EmbeddedHub) -> usize,
    touches_at_least: usize,
    survived: &'a dyn Fn(&HubStats, &HubStats) -> bool,
}

/// Half the probing hour is consumed, the fault is injected, the hub shows it was
/// lived through, then the other half and a closing record on each partition.
async fn survives(standin: EmbeddedHub, credential: Arc<dyn TokenCredential>, fault: Fault<'_>) {
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        fault.name,
        "5m",
        "idle_after = \"1h\"",
        &format!(
            "{}\n{}",
            hub_toml(&standin, HUB, &[], None),
            webhook_toml(dir.path(), &hook.url())
        ),
    );
    let records = probing_hour();
    let (early, late) = records.split_at(records.len() / 2);
    let mut all = Vec::new();
    for (p, bodies) in deal(early, 4, 2).iter().enumerate() {
        for b in bodies {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let phase_one = all.len() as u64;
    let live = start_live_with(&config, None, credential).await;
    wait_status(&live, "phase one taken", |s| s.bodies == phase_one).await;

    let before = standin.stats();
    let touched = (fault.inject)(&standin);
    assert!(
        touched >= fault.touches_at_least,
        "{}: the fault touched {touched}",
        fault.name
    );
    wait_until(&format!("{}: lived through", fault.name), || {
        (fault.survived)(&before, &standin.stats())
    })
    .await;

    for (p, bodies) in deal(late, 4, 2).iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b);
        }
    }
    let expected = reference_alerts(&config, &all);
    assert!(expected.len() >= 3, "{expected:?}");
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc()
        - chrono::Duration::minutes(5);
    let status = wait_status(&live, "everything taken", |s| s.watermark == Some(end)).await;
    assert_eq!(status.bodies, all.len() as u64, "every body exactly once");
    hook.wait_for(expected.len()).await;
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
    assert_exactly(&hook.alerts(), &expected);
    eprintln!("{}: {:?} -> {:?}", fault.name, before, standin.stats());
}

/// Both readers attached again after the fault.
fn reattached(before: &HubStats, now: &HubStats) -> bool {
    now.links_attached >= before.links_attached + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_detached_by_the_service_lose_and_double_nothing() {
    survives(
        standin(&[(HUB, 2)]).await,
        credential(),
        Fault {
            name: "detach",
            inject: &|hub| hub.faults().detach_receivers(HUB, None),
            touches_at_least: 2,
            survived: &reattached,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_by_the_service_lose_and_double_nothing() {
    survives(
        standin(&[(HUB, 2)]).await,
        credential(),
        Fault {
            name: "close",
            inject: &|hub| hub.faults().close_connections(),
            touches_at_least: 2,
            survived: &reattached,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_without_a_word_lose_and_double_nothing() {
    survives(
        standin(&[(HUB, 2)]).await,
        credential(),
        Fault {
            name: "drop",
            inject: &|hub| hub.faults().drop_connections(),
            touches_at_least: 2,
            survived: &reattached,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_expiring_at_once_loses_and_doubles_nothing() {
    survives(
        standin(&[(HUB, 2)]).await,
        credential(),
        Fault {
            name: "expire",
            inject: &|hub| hub.faults().expire_tokens(),
            touches_at_least: 2,
            survived: &|before, now| {
                now.links_cut_by_token_expiry >= before.links_cut_by_token_expiry + 2
                    && reattached(before, now)
            },
        },
    )
    .await;
}

/// The hub honours every token for two seconds only (the SDK's are valid for a day,
/// so it does not refresh them): the readers are cut off again and again, and come
/// back each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_expires_tokens_every_two_seconds_loses_and_doubles_nothing() {
    let config = hub_config(&[(HUB, 2)]).with_max_token_lifetime(Duration::from_secs(2));
    survives(
        start_hub(config).await,
        credential(),
        Fault {
            name: "short-tokens",
            inject: &|_| 0,
            touches_at_least: 0,
            survived: &|_, now| now.links_cut_by_token_expiry >= 4 && now.links_attached >= 6,
        },
    )
    .await;
}

/// Tokens valid for six minutes and eight seconds: the SDK refreshes each six minutes
/// (± 5 s) before it expires, so every few seconds, against a hub that checks every
/// signature and expiry. Every reader's token is renewed at least twice while kvwatch
/// reads, and no link is cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_refreshes_short_lived_tokens_while_kvwatch_reads() {
    let issuer = Arc::new(HubCredential::new(
        DEFAULT_NAMESPACE,
        test_key(),
        Duration::from_secs(6 * 60 + 8),
    ));
    let standin = standin(&[(HUB, 2)]).await;
    survives(
        standin,
        issuer.clone(),
        Fault {
            name: "refresh",
            inject: &|_| 0,
            touches_at_least: 0,
            survived: &|_, now| now.tokens_renewed >= 4,
        },
    )
    .await;
    assert!(issuer.issued() >= 6, "tokens issued: {}", issuer.issued());
}

/// A token the hub's keys did not sign is refused, and the client gets no link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_key_is_refused() {
    use azure_messaging_eventhubs::ConsumerClient;
    use futures::StreamExt;
    use kvwatch::embedded_hub::SharedAccessKey;

    let standin = standin(&[(HUB, 1)]).await;
    standin.publish(HUB, "0", b"secret".to_vec()).unwrap();
    let forged = Arc::new(HubCredential::new(
        DEFAULT_NAMESPACE,
        SharedAccessKey::new(test_key().name(), "another-key"),
        Duration::from_secs(3600),
    ));
    let open = ConsumerClient::builder()
        .with_custom_endpoint(standin.endpoint())
        .open(standin.namespace(), HUB.to_string(), forged);
    // Opening only connects; the token is put when the receiver attaches.
    let got = async {
        let consumer = open.await?;
        let receiver = consumer
            .open_receiver_on_partition("0".into(), None)
            .await?;
        let mut events = std::pin::pin!(receiver.stream_events());
        match events.next().await {
            Some(Ok(event)) => Ok(event.event_data().body().map(<[u8]>::to_vec)),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    };
    let got = within("the forged client's first receive", got).await;
    assert!(got.is_err(), "a forged token must not read: {got:?}");
    assert!(standin.stats().tokens_refused >= 1, "{:?}", standin.stats());
    assert_eq!(standin.consumer_links(HUB), 0);
}
