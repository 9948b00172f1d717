//! The email sink against a real SMTP server (aiosmtpd, started from the venv that
//! scripts/setup/python.sh makes): STARTTLS verified against the throwaway CA,
//! implicit TLS, a plain local relay, authentication, several recipients, the
//! rendered subject and bodies, digests, transient and permanent refusals.

use crate::support;

use std::sync::Arc;

use kvwatch::alert::Severity;
use kvwatch::pipeline::clock::{ManualClock, SystemClock};
use kvwatch::sink::observe::{AttemptOutcome, Recorded};
use kvwatch::sink::sample;
use support::smtp::{pki, SmtpServer, Tls};
use support::{config, enqueue, secret, start, wait_for, PATIENCE};

fn email_sink(port: u16, tls: &str, extra: &str) -> String {
    let ca = if tls == "none" {
        String::new()
    } else {
        format!(
            "ca_file = {:?}\n",
            pki().join("ca.pem").display().to_string()
        )
    };
    format!(
        "[[sinks]]\nkind = \"email\"\nname = \"mail\"\nhost = \"localhost\"\nport = {port}\ntls = \"{tls}\"\nfrom = \"kvwatch <kvwatch@example.com>\"\nto = [\"soc@example.com\", \"oncall@example.com\"]\n{ca}{extra}\n"
    )
}

fn auth(dir: &std::path::Path, password: &str) -> String {
    format!(
        "username = \"kvwatch\"\npassword = {}\n",
        secret(dir, "smtp-password", password)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_authentication_reaches_every_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(
        &dir.path().join("mail"),
        Tls::Starttls,
        Some("kvwatch:s3cret-pass"),
        0,
    );
    let cfg = config(
        dir.path(),
        "",
        &email_sink(smtp.port, "starttls", &auth(dir.path(), "s3cret-pass")),
    );
    let running = start(&cfg, Arc::new(SystemClock));
    let alert = sample::alert(1, Severity::High);
    enqueue(&running, &cfg, std::slice::from_ref(&alert));
    wait_for("the email", || smtp.emails().len() == 1).await;
    let mail = &smtp.emails()[0];
    assert_eq!(mail.0["encrypted"], true);
    assert_eq!(mail.0["login"], "kvwatch");
    assert_eq!(
        mail.0["rcpt_tos"],
        serde_json::json!(["soc@example.com", "oncall@example.com"])
    );
    assert_eq!(
        mail.get("subject"),
        "[kvwatch] HIGH failed_auth: analyst1@contoso.com on kv-prod-payments"
    );
    assert_eq!(mail.get("message_id"), format!("<{}@kvwatch>", alert.id));
    assert_eq!(mail.get("alert_ids"), alert.id);
    assert_eq!(mail.get("content_type"), "multipart/alternative");
    let text = mail.get("text");
    for want in [
        alert.summary.as_str(),
        "Observed against the baseline",
        "0-2 denied calls an hour",
        "Evidence",
        "Next steps",
        "secrets/payments-db-password",
    ] {
        assert!(text.contains(want), "text body lacks {want:?}:\n{text}");
    }
    let html = mail.get("html");
    assert!(
        html.contains("<h3") && html.contains("Next steps") && html.contains("203.0.113.7"),
        "{html}"
    );
    assert_eq!(running.delivery.drain(PATIENCE).await.unwrap(), 0);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_and_a_plain_local_relay_both_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let tls = SmtpServer::start(&dir.path().join("tls"), Tls::Implicit, None, 0);
    let plain = SmtpServer::start(&dir.path().join("plain"), Tls::None, None, 0);
    let sinks = email_sink(tls.port, "implicit", "")
        + &email_sink(plain.port, "none", "").replace("name = \"mail\"", "name = \"relay\"");
    let cfg = config(dir.path(), "", &sinks);
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::alert(1, Severity::Medium)]);
    wait_for("both emails", || {
        tls.emails().len() == 1 && plain.emails().len() == 1
    })
    .await;
    assert_eq!(tls.emails()[0].0["encrypted"], true);
    assert_eq!(plain.emails()[0].0["encrypted"], false);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("mail"), Tls::Starttls, None, 0);
    let sinks = email_sink(smtp.port, "starttls", "").replace(
        &pki().join("ca.pem").display().to_string(),
        &pki().join("other-ca.pem").display().to_string(),
    );
    let cfg = config(dir.path(), "", &sinks);
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::alert(1, Severity::High)]);
    wait_for("a failed TLS attempt", || {
        running.events.events().iter().any(|e| {
            matches!(
                e,
                Recorded::Attempt(_, AttemptOutcome::Failed { retryable: true }, Some(_))
            )
        })
    })
    .await;
    let events = format!("{:?}", running.events.events());
    assert!(
        events.to_lowercase().contains("certificate") || events.to_lowercase().contains("tls"),
        "{events}"
    );
    assert!(
        smtp.emails().is_empty(),
        "nothing may be sent over an unverified connection"
    );
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_permanent_failure_that_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(
        &dir.path().join("mail"),
        Tls::Starttls,
        Some("kvwatch:right-password"),
        0,
    );
    let cfg = config(
        dir.path(),
        "",
        &email_sink(smtp.port, "starttls", &auth(dir.path(), "Wr0ng-Passw0rd")),
    );
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::alert(1, Severity::High)]);
    wait_for("the dead letter", || {
        running
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::DeadLettered(..)))
    })
    .await;
    let text = format!(
        "{:?} {:?}",
        running.events.events(),
        running.delivery.outbox().list().unwrap()
    );
    assert!(
        text.contains("535") && text.contains("refused (not retryable)"),
        "a 5xx is permanent: {text}"
    );
    assert!(
        !text.contains("Wr0ng-Passw0rd"),
        "the password leaked: {text}"
    );
    assert!(smtp.emails().is_empty());
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_refusal_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("mail"), Tls::Starttls, None, 1);
    let cfg = config(dir.path(), "", &email_sink(smtp.port, "starttls", ""));
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::alert(1, Severity::High)]);
    wait_for("the email after a 451", || smtp.emails().len() == 1).await;
    assert!(running
        .events
        .events()
        .iter()
        .any(|e| matches!(e, Recorded::Retried(..))));
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_severity_alerts_wait_for_one_digest() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("mail"), Tls::Starttls, None, 0);
    let cfg = config(
        dir.path(),
        "",
        &email_sink(smtp.port, "starttls", "digest_every = \"15m\"\n"),
    );
    let clock = ManualClock::new(sample::epoch());
    let running = start(&cfg, Arc::new(clock.clone()));
    let lows: Vec<_> = (1..=3).map(|n| sample::alert(n, Severity::Low)).collect();
    let high = sample::alert(9, Severity::High);
    enqueue(&running, &cfg, &lows);
    enqueue(&running, &cfg, std::slice::from_ref(&high));
    wait_for("the high alert's own email", || smtp.emails().len() == 1).await;
    assert!(smtp.emails()[0].get("subject").contains("HIGH"));
    clock.advance(chrono::Duration::minutes(14));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        smtp.emails().len(),
        1,
        "the digest is not due before 15 minutes"
    );
    clock.advance(chrono::Duration::minutes(2));
    wait_for("the digest", || smtp.emails().len() == 2).await;
    let digest = &smtp.emails()[1];
    assert_eq!(
        digest.get("subject"),
        "[kvwatch] digest: 3 alerts (up to low) on 1 vault"
    );
    let ids = digest.get("alert_ids");
    assert!(lows.iter().all(|a| ids.contains(&a.id)), "{ids}");
    assert!(lows.iter().all(|a| digest.get("text").contains(&a.id)));
    assert_eq!(running.delivery.drain(PATIENCE).await.unwrap(), 0);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_cannot_inject_headers_or_markup() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("mail"), Tls::Starttls, None, 0);
    let cfg = config(dir.path(), "", &email_sink(smtp.port, "starttls", ""));
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::hostile_alert()]);
    wait_for("the email", || smtp.emails().len() == 1).await;
    let mail = &smtp.emails()[0];
    assert_eq!(
        mail.0["rcpt_tos"],
        serde_json::json!(["soc@example.com", "oncall@example.com"]),
        "no Bcc injection"
    );
    assert!(!mail.get("subject").contains('\n'));
    let html = mail.get("html");
    assert!(
        !html.contains("<script>") && html.contains("&lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains('\u{202e}') && !mail.get("text").contains('\u{1b}'));
    running.delivery.stop().await.unwrap();
}
