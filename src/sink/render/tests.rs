//! Rendering tests: hostile values render inert in every medium.

use super::*;
use crate::alert::Severity;
use crate::sink::sample;

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn control_and_bidi_characters_become_visible() {
    assert_eq!(
        inert("a\u{1b}[31m\r\nb\u{202e}c"),
        "a\\u{1b}[31m\\u{d}\\u{a}b\\u{202e}c"
    );
    assert_eq!(inert("plain ünïcode"), "plain ünïcode");
}

#[test]
fn html_escapes_markup() {
    assert_eq!(
        html("<a href=\"x\">&'"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    );
    let a = sample::hostile_alert();
    let body = email::html_body(&a);
    assert!(!body.contains("<script>"), "raw script tag in HTML");
    assert!(body.contains("&lt;script&gt;"));
    assert!(!body.contains('\u{202e}') && !body.contains('\u{1b}'));
    let subject = email::subject(&a, "[kvwatch]");
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    let text = email::text(&a);
    assert!(!text.contains('\u{1b}') && !text.contains("\r\nBcc:"));
}

#[test]
fn slack_values_cannot_form_links_mentions_or_formatting() {
    let msg = chat::slack_message(&sample::hostile_alert());
    let mut texts = Vec::new();
    strings(&msg, &mut texts);
    for t in &texts {
        assert!(
            !t.contains('<') && !t.contains('>'),
            "unescaped angle bracket in {t:?}"
        );
        assert!(
            !t.contains('\u{202e}') && !t.contains('\u{1b}'),
            "control character in {t:?}"
        );
    }
    let blocks = msg["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    // In mrkdwn, formatting characters from values are broken up.
    assert!(slack("*bold*").contains("*\u{2060}bold*\u{2060}"));
    // Evidence sits in a code block that values cannot close.
    let evidence = blocks
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*Evidence*"))
        })
        .unwrap();
    let text = evidence["text"]["text"].as_str().unwrap();
    assert_eq!(text.matches("```").count(), 2, "{text}");
}

#[test]
fn teams_values_are_escaped_for_card_markdown() {
    assert_eq!(
        teams("[x](y) *b* {{DATE()}}"),
        "\\[x\\]\\(y\\) \\*b\\* \\{\\{DATE\\(\\)\\}\\}"
    );
    let msg = chat::teams_message(&sample::hostile_alert());
    assert_eq!(msg["type"], "message");
    let card = &msg["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    let mut texts = Vec::new();
    strings(&card["content"]["body"], &mut texts);
    for t in &texts {
        // Every markup character from a value is preceded by a backslash.
        let chars: Vec<char> = t.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if "[]*_{}<>`".contains(*c) {
                assert!(i > 0 && chars[i - 1] == '\\', "unescaped {c:?} in {t:?}");
            }
        }
        assert!(!t.contains('\u{202e}'));
    }
}

#[test]
fn subject_names_severity_detector_principal_and_vault() {
    let a = sample::alert(1, Severity::High);
    assert_eq!(
        email::subject(&a, "[kvwatch]"),
        "[kvwatch] HIGH failed_auth: analyst1@contoso.com on kv-prod-payments"
    );
    let text = email::text(&a);
    for want in [
        "Observed against the baseline",
        "0-2 denied calls an hour",
        "Next steps",
        "Evidence",
        &a.id,
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let digest = [
        sample::alert(1, Severity::Low),
        sample::alert(2, Severity::Info),
    ];
    assert_eq!(
        email::digest_subject(&digest, "[kvwatch]"),
        "[kvwatch] digest: 2 alerts (up to low) on 1 vault"
    );
}
