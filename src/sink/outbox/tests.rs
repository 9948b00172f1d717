//! Outbox tests: routing per sink, idempotent enqueue, digests, persistence, the lock,
//! and the `retry`/`drop` selections.

use super::*;
use crate::alert::Severity;
use crate::sink::sample;

fn route(sink: &str) -> Route {
    Route {
        sink: sink.into(),
        digest_at: None,
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    sample::epoch() + chrono::Duration::seconds(secs)
}

#[test]
fn an_alert_stays_until_every_sink_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(&dir.path().join("o.redb")).unwrap();
    let a = sample::alert(1, Severity::High);
    let queued = ob
        .enqueue(&[(a.clone(), vec![route("mail"), route("hook")])], t(0))
        .unwrap();
    assert_eq!(queued.len(), 2);
    // Enqueuing the same alert again while it waits adds nothing.
    assert!(ob
        .enqueue(&[(a.clone(), vec![route("mail")])], t(1))
        .unwrap()
        .is_empty());
    let scan = ob.scan("mail", t(0), 10).unwrap();
    assert_eq!((scan.due.len(), scan.pending), (1, 1));
    assert_eq!(scan.due[0].alert.as_ref().unwrap(), &a);
    ob.succeeded("mail", &[scan.due[0].seq]).unwrap();
    assert_eq!(ob.waiting(&["mail".into(), "hook".into()]).unwrap(), 1);
    let hook = ob.scan("hook", t(0), 10).unwrap();
    assert!(
        hook.due[0].alert.is_some(),
        "the alert must outlive the first sink's delivery"
    );
    ob.succeeded("hook", &[hook.due[0].seq]).unwrap();
    assert!(ob.list().unwrap().is_empty());
    // Delivered alerts can be queued again (a second replay of the same logs).
    assert_eq!(
        ob.enqueue(&[(a, vec![route("mail")])], t(2)).unwrap().len(),
        1
    );
}

#[test]
fn not_yet_due_deliveries_wait_and_report_when_they_fall_due() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(&dir.path().join("o.redb")).unwrap();
    ob.enqueue(
        &[(sample::alert(1, Severity::High), vec![route("s")])],
        t(0),
    )
    .unwrap();
    let p = ob.scan("s", t(0), 10).unwrap().due.remove(0);
    let mut state = p.state.clone();
    state.tries = 1;
    state.next_at = t(30).timestamp_micros();
    state.last_error = Some("503".into());
    ob.update("s", &[(p.seq, state)]).unwrap();
    let scan = ob.scan("s", t(10), 10).unwrap();
    assert!(scan.due.is_empty());
    assert_eq!(scan.next_due, Some(t(30)));
    let scan = ob.scan("s", t(30), 10).unwrap();
    assert_eq!(scan.due[0].state.tries, 1);
    assert_eq!(scan.due[0].state.last_error.as_deref(), Some("503"));
}

#[test]
fn a_due_digest_entry_brings_every_waiting_digest_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(&dir.path().join("o.redb")).unwrap();
    let digest = |at: i64| Route {
        sink: "mail".into(),
        digest_at: Some(t(at)),
    };
    ob.enqueue(
        &[(sample::alert(1, Severity::Low), vec![digest(600)])],
        t(0),
    )
    .unwrap();
    ob.enqueue(
        &[(sample::alert(2, Severity::Low), vec![digest(900)])],
        t(300),
    )
    .unwrap();
    assert!(ob.scan("mail", t(599), 10).unwrap().due.is_empty());
    let due = ob.scan("mail", t(600), 10).unwrap().due;
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|p| p.state.digest));
}

#[test]
fn survives_reopening_and_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/o.redb");
    {
        let ob = Outbox::open(&path).unwrap();
        ob.enqueue(
            &[(sample::alert(1, Severity::High), vec![route("s")])],
            t(0),
        )
        .unwrap();
        assert!(matches!(
            Outbox::open(&path),
            Err(OutboxError::Locked { .. })
        ));
    }
    let ob = Outbox::open(&path).unwrap();
    assert_eq!(ob.waiting(&["s".into()]).unwrap(), 1);
}

#[test]
fn retry_and_drop_touch_only_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(&dir.path().join("o.redb")).unwrap();
    let (a, b) = (
        sample::alert(1, Severity::High),
        sample::alert(2, Severity::High),
    );
    ob.enqueue(
        &[
            (a.clone(), vec![route("s"), route("t")]),
            (b.clone(), vec![route("s")]),
        ],
        t(0),
    )
    .unwrap();
    let p = ob.scan("s", t(0), 10).unwrap().due.remove(0);
    let mut dead = p.state.clone();
    dead.dead = true;
    dead.tries = 10;
    ob.update("s", &[(p.seq, dead)]).unwrap();
    assert_eq!(ob.waiting(&["s".into()]).unwrap(), 1);
    let only_dead = Selection {
        dead_only: true,
        ..Default::default()
    };
    assert_eq!(ob.retry(&only_dead, t(100)).unwrap(), 1);
    let again = ob.scan("s", t(100), 10).unwrap();
    assert_eq!(again.pending, 2);
    assert!(again
        .due
        .iter()
        .all(|p| p.state.tries == 0 && !p.state.dead));
    let by_id = Selection {
        alert_id: Some(a.id.clone()),
        ..Default::default()
    };
    assert_eq!(ob.drop_selected(&by_id).unwrap(), 2);
    let left = ob.list().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state.alert_id, b.id);
}

#[test]
fn a_damaged_outbox_is_an_error_naming_it_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let healthy_path = dir.path().join("healthy.redb");
    {
        let ob = Outbox::open(&healthy_path).unwrap();
        let batch: Vec<_> = (1..=40)
            .map(|n| (sample::alert(n, Severity::High), vec![route("hook")]))
            .collect();
        ob.enqueue(&batch, t(0)).unwrap();
    }
    let healthy = std::fs::read(&healthy_path).unwrap();
    for (i, damage) in crate::state::damage::table().iter().enumerate() {
        let path = dir.path().join(format!("damaged-{i}.redb"));
        crate::state::damage::write_damaged(&healthy, damage, &path);
        let outcome =
            std::panic::catch_unwind(|| Outbox::open(&path).and_then(|ob| ob.list().map(|_| ())));
        let result = outcome.unwrap_or_else(|_| panic!("{}: opening panicked", damage.name));
        match result {
            Ok(()) => assert!(!damage.fatal, "{}: opened as if healthy", damage.name),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains(&path.display().to_string()),
                    "{}: the error names the file: {text}",
                    damage.name
                );
                assert!(
                    text.contains("backup") && text.contains("move it aside"),
                    "{}: the error says what to do: {text}",
                    damage.name
                );
            }
        }
    }
}
