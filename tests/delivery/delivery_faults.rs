//! Fault tests: a receiver that is down, answers 500 or 429, or stalls past the
//! attempt timeout; dead letters by tries, age and refusal, and their retry; a restart
//! with undelivered alerts. In each, an idempotent receiver ends up with every alert
//! exactly once.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use kvwatch::alert::{Alert, Severity};
use kvwatch::pipeline::clock::{ManualClock, SystemClock};
use kvwatch::sink::observe::{AttemptOutcome, Recorded};
use kvwatch::sink::outbox::Selection;
use kvwatch::sink::sample;
use support::receiver::{webhook_id, Behaviour, Receiver};
use support::{config, enqueue, secret, start, wait_for, PATIENCE};

fn webhook(dir: &std::path::Path, rx: &Receiver) -> String {
    format!(
        "[[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {}\nsigning_secret = {}\n",
        secret(dir, "url", &rx.url("/hook")),
        secret(dir, "whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    )
}

fn alerts(n: u32) -> Vec<Alert> {
    (1..=n).map(|i| sample::alert(i, Severity::High)).collect()
}

fn ids(alerts: &[Alert]) -> Vec<String> {
    let mut v: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    v.sort();
    v
}

fn failures(events: &[Recorded]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Recorded::Attempt(_, AttemptOutcome::Failed { .. }, _)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_everything_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::start(webhook_id, None).await;
    let cfg = config(dir.path(), "", &webhook(dir.path(), &rx));
    rx.down().await;
    let running = start(&cfg, Arc::new(SystemClock));
    let sent = alerts(5);
    enqueue(&running, &cfg, &sent);
    wait_for("two refused attempts", || {
        failures(&running.events.events()) >= 2
    })
    .await;
    let refused = running.events.events();
    let err = refused.iter().find_map(|e| match e {
        Recorded::Attempt(_, AttemptOutcome::Failed { retryable: true }, Some(err)) => {
            Some(err.clone())
        }
        _ => None,
    });
    assert!(err.unwrap().contains("could not connect"));
    rx.up().await;
    wait_for("all five alerts", || rx.accepted().len() == 5).await;
    assert_eq!(
        rx.accepted().keys().cloned().collect::<Vec<_>>(),
        ids(&sent)
    );
    assert!(
        rx.accepted().values().all(|n| *n == 1),
        "nothing was accepted twice: {:?}",
        rx.accepted()
    );
    assert_eq!(running.delivery.drain(PATIENCE).await.unwrap(), 0);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.plan(&[
        Behaviour::Status(500),
        Behaviour::Status(502),
        Behaviour::Status(503),
    ]);
    let cfg = config(dir.path(), "", &webhook(dir.path(), &rx));
    let running = start(&cfg, Arc::new(SystemClock));
    let sent = alerts(4);
    enqueue(&running, &cfg, &sent);
    wait_for("all four alerts", || rx.accepted().len() == 4).await;
    assert_eq!(
        rx.accepted().keys().cloned().collect::<Vec<_>>(),
        ids(&sent)
    );
    assert_eq!(rx.raw_count(), 7, "three failures, four successes");
    let retried = running
        .events
        .events()
        .iter()
        .filter(|e| matches!(e, Recorded::Retried(..)))
        .count();
    assert_eq!(retried, 3);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_the_sink_for_retry_after_without_counting_a_try() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.plan(&[Behaviour::TooMany(30)]);
    let cfg = config(dir.path(), "", &webhook(dir.path(), &rx));
    // Time only moves when the test says so.
    let clock = ManualClock::new(sample::epoch());
    let running = start(&cfg, Arc::new(clock.clone()));
    let sent = alerts(2);
    enqueue(&running, &cfg, &sent);
    wait_for("the rate-limited attempt", || rx.raw_count() == 1).await;
    wait_for("the pause to be recorded", || {
        running
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::RateLimited(_, d) if *d == Duration::from_secs(30)))
    })
    .await;
    // Workers poll every 20ms; give them many chances to (wrongly) send during the pause.
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            rx.raw_count(),
            1,
            "nothing may be sent while the receiver asked for a pause"
        );
    }
    clock.advance(chrono::Duration::seconds(29));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.raw_count(), 1, "29s is still inside Retry-After: 30");
    clock.advance(chrono::Duration::seconds(2));
    wait_for("both alerts after the pause", || rx.accepted().len() == 2).await;
    let retried: Vec<u32> = running
        .events
        .events()
        .iter()
        .filter_map(|e| {
            if let Recorded::Retried(_, _, t) = e {
                Some(*t)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(retried, vec![0], "a 429 is not counted as a try");
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_times_out_and_the_alert_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.plan(&[Behaviour::Stall(Duration::from_secs(20))]);
    let cfg = config(
        dir.path(),
        "attempt_timeout = \"300ms\"\n",
        &webhook(dir.path(), &rx),
    );
    let running = start(&cfg, Arc::new(SystemClock));
    let sent = alerts(3);
    enqueue(&running, &cfg, &sent);
    wait_for("all three alerts", || {
        ids(&sent).iter().all(|id| rx.accepted().contains_key(id))
    })
    .await;
    assert!(
        rx.raw_count() >= 4,
        "the stalled request plus three accepted"
    );
    let timed_out = running.events.events().iter().any(|e| {
        matches!(e, Recorded::Attempt(_, AttemptOutcome::Failed { retryable: true }, Some(m)) if m.contains("timed out"))
    });
    assert!(timed_out, "{:?}", running.events.events());
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_after_max_tries_then_retry_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.set_default(Behaviour::Status(500));
    let cfg = config(dir.path(), "max_tries = 3\n", &webhook(dir.path(), &rx));
    let running = start(&cfg, Arc::new(SystemClock));
    let sent = alerts(1);
    enqueue(&running, &cfg, &sent);
    wait_for("the dead letter", || {
        running
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::DeadLettered(..)))
    })
    .await;
    assert_eq!(rx.raw_count(), 3);
    let listed = running.delivery.outbox().list().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].state.dead && listed[0].state.tries == 3);
    assert!(listed[0]
        .state
        .last_error
        .as_deref()
        .unwrap()
        .contains("gave up after 3 tries"));
    assert_eq!(
        running.delivery.drain(Duration::ZERO).await.unwrap(),
        0,
        "dead letters do not hold up a drain"
    );

    rx.set_default(Behaviour::Accept);
    let n = running
        .delivery
        .outbox()
        .retry(
            &Selection {
                dead_only: true,
                ..Default::default()
            },
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(n, 1);
    running.delivery.wake();
    wait_for("the retried alert", || rx.accepted().len() == 1).await;
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_dead_letters_at_once_and_old_alerts_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.plan(&[Behaviour::Status(400)]);
    rx.set_default(Behaviour::Status(503));
    let cfg = config(dir.path(), "max_age = \"1m\"\n", &webhook(dir.path(), &rx));
    let clock = ManualClock::new(sample::epoch());
    let running = start(&cfg, Arc::new(clock.clone()));
    let sent = alerts(2);
    enqueue(&running, &cfg, &sent[..1]);
    wait_for("the refused alert", || {
        running
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::DeadLettered(..)))
    })
    .await;
    assert_eq!(rx.raw_count(), 1, "a 400 is not retried");

    enqueue(&running, &cfg, &sent[1..]);
    wait_for("a 503", || rx.raw_count() == 2).await;
    // Past max_age, the next failure gives up.
    clock.advance(chrono::Duration::minutes(2));
    wait_for("the aged dead letter", || {
        running
            .events
            .events()
            .iter()
            .filter(|e| matches!(e, Recorded::DeadLettered(..)))
            .count()
            == 2
    })
    .await;
    let dead = running.delivery.outbox().list().unwrap();
    assert!(dead.iter().any(|p| p
        .state
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("refused (not retryable)")));
    assert!(dead.iter().any(|p| p
        .state
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("undelivered after")));
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_alerts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::start(webhook_id, None).await;
    let cfg = config(dir.path(), "", &webhook(dir.path(), &rx));
    rx.down().await;
    let sent = alerts(6);
    {
        let running = start(&cfg, Arc::new(SystemClock));
        enqueue(&running, &cfg, &sent);
        wait_for("a refused attempt", || {
            failures(&running.events.events()) >= 1
        })
        .await;
        running.delivery.stop().await.unwrap();
    }
    rx.up().await;
    let running = start(&cfg, Arc::new(SystemClock));
    wait_for("all six alerts after the restart", || {
        rx.accepted().len() == 6
    })
    .await;
    assert_eq!(
        rx.accepted().keys().cloned().collect::<Vec<_>>(),
        ids(&sent)
    );
    assert_eq!(running.delivery.drain(PATIENCE).await.unwrap(), 0);
    running.delivery.stop().await.unwrap();
}
