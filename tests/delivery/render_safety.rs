//! Escaping audit: an alert whose record-derived fields carry markup, mentions, links,
//! terminal escapes, CR/LF, NUL and bidi overrides renders inert in every renderer a
//! sink uses.
//!
//! Record contents are attacker-controlled: a user agent, a UPN, an object name, a
//! result description. They reach the alert's summary, principal, vault, identity and
//! evidence. Each renderer is checked against the same alert built with a harmless
//! value in the same places, so the check does not depend on how a renderer lays
//! things out, only on the hostile value changing nothing but text:
//!
//! - HTML email (alert and digest): the sequence of tags, attributes included, is
//!   exactly the harmless one's (no element or attribute can be injected), and no
//!   raw control or bidi character or extra line appears;
//! - plain-text email and the subject: no raw control or bidi character, no extra
//!   line (so no forged header or paragraph), a subject on one line;
//! - Slack Block Kit: the same JSON structure, no `<` or `>` in any text (so no link,
//!   `<!channel>` or `<@U…>` mention can form), mrkdwn formatting characters broken
//!   up, the evidence code block closed exactly once;
//! - Teams Adaptive Card: the same structure, every markdown character from a value
//!   backslash-escaped, no control characters;
//! - PagerDuty: summary, source and group free of control and bidi characters;
//! - the alert contract (JSON Lines file sink, standard output, generic webhook body,
//!   PagerDuty custom details): one line of valid JSON that reads back to the same
//!   alert.

use serde_json::Value;

use kvwatch::alert::{Alert, Evidence, PrincipalSummary, Severity};
use kvwatch::config::delivery::DedupKey;
use kvwatch::sink::render::{chat, email};
use kvwatch::sink::sample;
use kvwatch::sink::webhook::pagerduty;

/// Everything an attacker might put in a user agent, a UPN or an object name.
const NASTY: &str = concat!(
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
    "'><svg/onload=alert(3)>",
    " <!channel> <!here> <@U123> <#C42> <https://evil.example|click here>",
    " *bold* _it_ ~strike~ `code` ```block```",
    " [click](https://evil.example) ![img](https://evil.example/x.png) {{DATE(2017-02-14T06:08:39Z)}}",
    " &amp; &lt;b&gt; \\*escaped\\*",
    " \u{1b}[31mred\u{1b}[0m \u{1b}]8;;https://evil.example\u{7}link\u{1b}]8;;\u{7}",
    " \r\nBcc: victim@example.com\r\n\r\nforged body",
    " nul\0byte \u{202e}gnp.exe \u{200b}zw \u{2028}ls \u{85}nel",
);

/// The same alert, with `text` in every field that can carry record data.
fn alert_with(text: &str) -> Alert {
    let mut a = sample::alert(7, Severity::High);
    a.principal = PrincipalSummary {
        upn: Some(format!("mallory{text}@contoso.com")),
        oid: Some(format!("oid{text}")),
        appid: Some(format!("app{text}")),
        kind: "user".into(),
    };
    a.identity = format!("ip:{text}");
    a.vault = format!("kv-{text}");
    a.summary = format!("summary {text}");
    let mut object = serde_json::Map::new();
    object.insert(format!("agent {text}"), Value::from(3));
    a.evidence = Evidence::new()
        .with("observed", format!("observed {text}"))
        .with("baseline", format!("baseline {text}"))
        .with("expected", format!("expected {text}"))
        .with("user_agent", text.to_owned())
        .with_list(
            "objects",
            [format!("secrets/{text}"), format!("keys/{text}")],
        )
        .with("by_agent", Value::Object(object));
    a
}

fn hostile() -> Alert {
    alert_with(NASTY)
}

fn harmless() -> Alert {
    alert_with("plain")
}

/// Characters that must never reach an analyst raw: C0/C1 controls (the renderer's
/// own `\n` excepted by the callers that allow it), bidi overrides, zero-width and
/// line/paragraph separators.
fn is_risky(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn assert_no_risky(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| is_risky(c)) {
        panic!("{what}: raw {c:?} in {text:?}");
    }
}

/// Every tag of an HTML document, attributes included, in order.
fn tags(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map_or(rest.len(), |e| start + e + 1);
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

fn assert_html_inert(what: &str, hostile: &str, harmless: &str) {
    assert_eq!(
        tags(hostile),
        tags(harmless),
        "{what}: a value changed the HTML structure"
    );
    assert_no_risky(what, hostile);
    assert_eq!(
        hostile.lines().count(),
        harmless.lines().count(),
        "{what}: a value added lines"
    );
    assert!(
        hostile.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{what}: the script is not shown as text"
    );
    assert!(
        hostile.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{what}: the img is not shown as text"
    );
}

#[test]
fn html_email_renders_hostile_values_as_text() {
    assert_html_inert(
        "html_body",
        &email::html_body(&hostile()),
        &email::html_body(&harmless()),
    );
    let digest = |a: Alert| {
        email::digest_html(&[
            sample::alert(1, Severity::Low),
            a,
            sample::alert(2, Severity::Info),
        ])
    };
    assert_html_inert("digest_html", &digest(hostile()), &digest(harmless()));
}

#[test]
fn plain_text_email_and_subject_cannot_forge_lines_or_escapes() {
    for (what, hostile, harmless) in [
        ("text", email::text(&hostile()), email::text(&harmless())),
        (
            "digest_text",
            email::digest_text(&[hostile()]),
            email::digest_text(&[harmless()]),
        ),
    ] {
        assert_no_risky(what, &hostile);
        assert_eq!(
            hostile.lines().count(),
            harmless.lines().count(),
            "{what}: a value added lines"
        );
        assert!(
            !hostile.lines().any(|l| l.starts_with("Bcc:")),
            "{what}: forged header line"
        );
    }
    for subject in [
        email::subject(&hostile(), "[kvwatch]"),
        email::digest_subject(&[hostile()], "[kvwatch]"),
    ] {
        assert!(!subject.contains('\n'), "{subject:?}");
        assert_no_risky("subject", &subject);
    }
}

/// Every string in a JSON value, with its path.
fn strings(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path, s.clone())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, format!("{path}[{i}]"), out)),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| strings(x, format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// The JSON shape without its strings: same keys, same array lengths, same types.
fn shape(v: &Value) -> Value {
    match v {
        Value::String(_) => Value::String(String::new()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), shape(x))).collect()),
        other => other.clone(),
    }
}

#[test]
fn slack_messages_cannot_mention_link_or_format() {
    let msg = chat::slack_message(&hostile());
    let calm = chat::slack_message(&harmless());
    assert_eq!(
        shape(&msg),
        shape(&calm),
        "a value changed the Block Kit structure"
    );
    let mut texts = Vec::new();
    strings(&msg, String::new(), &mut texts);
    let mut calm_texts = Vec::new();
    strings(&calm, String::new(), &mut calm_texts);
    for ((path, text), (_, calm_text)) in texts.iter().zip(&calm_texts) {
        assert!(
            !text.contains('<') && !text.contains('>'),
            "{path}: an angle bracket can form a link or mention: {text:?}"
        );
        assert_no_risky(path, text);
        // Long values may clip rows away; they must never add lines.
        assert!(
            text.matches('\n').count() <= calm_text.matches('\n').count(),
            "{path}: a value added lines"
        );
        for mention in [
            "<!channel>",
            "<!here>",
            "<@U123>",
            "<#C42>",
            "<https://evil.example|click here>",
        ] {
            assert!(!text.contains(mention), "{path}: {mention}");
        }
    }
    // Values in mrkdwn cannot pair formatting characters, and the evidence code block
    // is opened and closed exactly once.
    for block in msg["blocks"].as_array().unwrap() {
        if block["text"]["type"] == "mrkdwn" {
            let text = block["text"]["text"].as_str().unwrap();
            // Outside a code block (where Slack formats nothing).
            let formatted: String = text.split("```").step_by(2).collect();
            assert!(
                !formatted.contains("*bold*")
                    && !formatted.contains("_it_")
                    && !formatted.contains("~strike~"),
                "{text:?}"
            );
            if text.starts_with("*Evidence*") {
                assert_eq!(text.matches("```").count(), 2, "{text:?}");
                assert!(text.ends_with("```"), "{text:?}");
            }
        }
    }
}

#[test]
fn teams_cards_escape_every_markdown_character() {
    let msg = chat::teams_message(&hostile());
    let calm = chat::teams_message(&harmless());
    assert_eq!(
        shape(&msg),
        shape(&calm),
        "a value changed the card's structure"
    );
    let body = &msg["attachments"][0]["content"]["body"];
    let mut texts = Vec::new();
    strings(body, "body".into(), &mut texts);
    for (path, text) in &texts {
        assert_no_risky(path, text);
        assert!(!text.contains('\n'), "{path}: a line break in {text:?}");
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '\\' {
                i += 2; // an escape and what it escapes
                continue;
            }
            assert!(
                !"[]()*_{}<>`!#|~".contains(chars[i]),
                "{path}: unescaped {:?} in {text:?}",
                chars[i]
            );
            i += 1;
        }
    }
    assert!(!body.to_string().contains("[click](https://evil.example)"));
}

#[test]
fn pagerduty_events_carry_no_raw_control_characters() {
    for dedup in [DedupKey::Incident, DedupKey::Alert] {
        let event = pagerduty::event(&hostile(), dedup);
        let calm = pagerduty::event(&harmless(), dedup);
        let without_details = |e: &Value| {
            let mut e = e.clone();
            e["payload"]["custom_details"] = Value::Null;
            shape(&e)
        };
        assert_eq!(without_details(&event), without_details(&calm));
        for key in [
            "summary",
            "source",
            "group",
            "class",
            "severity",
            "timestamp",
        ] {
            let text = event["payload"][key]
                .as_str()
                .unwrap_or_else(|| panic!("no payload.{key}"));
            assert_no_risky(key, text);
            assert!(!text.contains('\n'), "payload.{key}: {text:?}");
        }
        // Custom details are the alert contract, as data: it reads back unchanged.
        let details: Alert =
            serde_json::from_value(event["payload"]["custom_details"].clone()).unwrap();
        assert_eq!(details, hostile());
    }
}

#[test]
fn the_alert_contract_is_one_line_of_json_that_reads_back() {
    // What the file sink, standard output and the generic webhook send.
    let a = hostile();
    let line = a.to_json_line();
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    assert!(
        !line.contains('\0') && !line.contains('\u{1b}'),
        "raw control characters in {line}"
    );
    let back: Alert = serde_json::from_str(&line).unwrap();
    assert_eq!(back, a);
}

/// Runs `kvwatch report` over records whose caller-controlled fields carry `text`,
/// and returns the HTML and Markdown reports.
fn report_with(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records.jsonl");
    let mut lines = String::new();
    // A burst of denied reads by one principal (so detectors have something to say),
    // then a successful read, all with the text in the user agent, the UPN, the
    // object name and the error description.
    let object: String = text
        .chars()
        .filter(|c| !matches!(c, '/' | '?' | '#'))
        .collect();
    for n in 0..80u32 {
        let status = if n < 79 { 403 } else { 200 };
        let record = serde_json::json!({
            "time": format!("2024-04-08T15:{:02}:{:02}.0000000Z", 10 + n / 60, n % 60),
            "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-REPORT",
            "operationName": "SecretGet",
            "category": "AuditEvent",
            "callerIpAddress": "203.0.113.9",
            "resultDescription": format!("denied {text}"),
            "identity": { "claim": { "oid": "0b0c0d0e-0000-4000-8000-000000000001", "upn": format!("m{text}@contoso.com") } },
            "properties": {
                "id": format!("https://kv-report.vault.azure.net/secrets/s{object}{}", n % 3),
                "clientInfo": format!("agent {text}"),
                "httpStatusCode": status,
            },
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(&input, lines).unwrap();
    let mut out = Vec::new();
    for name in ["report.html", "report.md"] {
        let path = dir.path().join(name);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_kvwatch"))
            .args(["report", "--no-progress", "--out"])
            .arg(&path)
            .arg(&input)
            .output()
            .expect("run kvwatch report");
        assert!(
            path.exists(),
            "kvwatch report wrote no {name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        out.push(std::fs::read_to_string(&path).unwrap());
    }
    (out.remove(0), out.remove(0))
}

#[test]
fn the_report_renders_hostile_values_as_text() {
    let (html, md) = report_with(NASTY);
    let (calm_html, _) = report_with("plain");
    // HTML: no element or attribute from a value; the values are there, as text.
    let calm_tags: std::collections::BTreeSet<String> = tags(&calm_html)
        .iter()
        .map(|t| t.split([' ', '>']).next().unwrap_or("").to_owned())
        .collect();
    for tag in tags(&html) {
        let name = tag.split([' ', '>']).next().unwrap_or("");
        assert!(
            calm_tags.contains(name),
            "a value added a {name} element: {tag}"
        );
        for raw in ["onerror", "onload", "javascript:", "evil.example", "alert("] {
            assert!(!tag.contains(raw), "{raw} in a tag: {tag}");
        }
    }
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile text is not in the report"
    );
    assert_no_risky("report.html", &html);
    // Markdown: no raw HTML, link or mention from a value.
    for raw in [
        "<script",
        "<img",
        "<svg",
        "<!channel>",
        "[click](https://evil.example)",
    ] {
        assert!(!md.contains(raw), "{raw} in the Markdown report");
    }
    assert!(
        md.contains("&lt;script&gt;"),
        "the hostile text is not in the Markdown report"
    );
    assert_no_risky("report.md", &md);
}
