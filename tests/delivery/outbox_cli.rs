//! `kvwatch outbox list|retry|drop` on an outbox with waiting and dead-lettered
//! deliveries, through the real binary.

use std::path::Path;
use std::process::Command;

use kvwatch::alert::Severity;
use kvwatch::sink::outbox::{Outbox, Route};
use kvwatch::sink::sample;

const KVWATCH: &str = env!("CARGO_BIN_EXE_kvwatch");

fn kvwatch(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(KVWATCH)
        .args(["outbox"])
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_retry_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.redb");
    let config = dir.path().join("kvwatch.toml");
    std::fs::write(
        &config,
        format!("[outbox]\npath = {:?}\n[[sinks]]\nkind = \"file\"\nname = \"archive\"\npath = \"alerts.jsonl\"\n", db.display().to_string()),
    )
    .unwrap();
    let (a, b, c) = (
        sample::alert(1, Severity::High),
        sample::alert(2, Severity::Low),
        sample::alert(3, Severity::Critical),
    );
    {
        let outbox = Outbox::open(&db).unwrap();
        let to = |s: &str| {
            vec![Route {
                sink: s.into(),
                digest_at: None,
            }]
        };
        outbox
            .enqueue(
                &[
                    (a.clone(), to("archive")),
                    (b.clone(), to("archive")),
                    (c.clone(), to("old-sink")),
                ],
                sample::epoch(),
            )
            .unwrap();
        let first = outbox
            .scan("archive", sample::epoch(), 1)
            .unwrap()
            .due
            .remove(0);
        let mut dead = first.state.clone();
        dead.dead = true;
        dead.tries = 10;
        dead.last_error = Some("gave up after 10 tries: receiver answered 503".into());
        outbox.update("archive", &[(first.seq, dead)]).unwrap();
    }

    let (ok, out, err) = kvwatch(&config, &["list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("SINK") && out.contains(&a.id) && out.contains(&b.id) && out.contains(&c.id),
        "{out}"
    );
    assert!(
        out.contains("old-sink(gone)"),
        "a sink no longer configured is flagged: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(&a.id) && l.contains("dead") && l.contains("503")),
        "{out}"
    );

    let (ok, out, _) = kvwatch(&config, &["list", "--dead", "--json"]);
    assert!(ok);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["alert_id"], a.id.as_str());
    assert_eq!(rows[0]["tries"], 10);

    let (ok, _, err) = kvwatch(&config, &["retry"]);
    assert!(ok && err.contains("1 deliveries due again"), "{err}");
    let (_, out, _) = kvwatch(&config, &["list", "--json"]);
    assert!(
        out.lines().all(|l| !l.contains("\"state\":\"dead\"")),
        "{out}"
    );

    let (ok, _, err) = kvwatch(&config, &["drop"]);
    assert!(
        ok && err.contains("0 deliveries dropped"),
        "drop without --all leaves waiting deliveries: {err}"
    );
    let (ok, _, err) = kvwatch(&config, &["drop", "--all", "--sink", "old-sink"]);
    assert!(ok && err.contains("1 deliveries dropped"), "{err}");
    let (_, out, _) = kvwatch(&config, &["list", "--json"]);
    assert_eq!(out.lines().count(), 2);
    assert!(!out.contains(&c.id));

    // While another process holds the outbox, the CLI says so.
    let _held = Outbox::open(&db).unwrap();
    let (ok, _, err) = kvwatch(&config, &["list"]);
    assert!(
        !ok && err.contains("another kvwatch process has it open"),
        "{err}"
    );
}

#[test]
fn a_truncated_outbox_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.redb");
    let config = dir.path().join("kvwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[outbox]\npath = {:?}\n[[sinks]]\nkind = \"file\"\nname = \"archive\"\npath = \"alerts.jsonl\"\n",
            db.display().to_string()
        ),
    )
    .unwrap();
    {
        let outbox = Outbox::open(&db).unwrap();
        let batch: Vec<_> = (1..=30)
            .map(|n| {
                let route = Route {
                    sink: "archive".into(),
                    digest_at: None,
                };
                (sample::alert(n, Severity::High), vec![route])
            })
            .collect();
        outbox.enqueue(&batch, sample::epoch()).unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let out = Command::new(KVWATCH)
        .args(["outbox", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "an error, not a panic: {err}");
    assert!(
        err.contains(&db.display().to_string()) && err.contains("move it aside"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
