//! Chat rendering: a Slack Block Kit message and a Teams Adaptive Card (inside the
//! message envelope Teams Workflows expects), each within its service's size limits.
//!
//! Slack: values go into `plain_text` objects (no formatting, no links) with `&`, `<`
//! and `>` as entities; evidence sits in a code block. Teams: every value is
//! backslash-escaped for the card's markdown.

use serde_json::{json, Value};

use super::{
    clip, evidence_rows, facts, headline, next_steps, slack, slack_code, slack_plain, teams,
};
use crate::alert::{Alert, Severity};

fn plain(text: &str, max: usize) -> Value {
    json!({ "type": "plain_text", "text": clip(&slack_plain(text), max), "emoji": false })
}

/// A Slack incoming-webhook payload (Block Kit, with a notification fallback).
pub fn slack_message(alert: &Alert) -> Value {
    let fields: Vec<Value> = facts(alert)
        .into_iter()
        .filter(|(label, _)| *label != "Alert id")
        .take(10)
        .map(|(label, value)| plain(&format!("{label}: {value}"), 1900))
        .collect();
    let mut blocks = vec![
        json!({ "type": "header", "text": plain(&headline(alert), 150) }),
        json!({ "type": "section", "text": plain(&alert.summary, 2900) }),
        json!({ "type": "section", "fields": fields }),
    ];
    let rows = evidence_rows(alert);
    if !rows.is_empty() {
        let body: Vec<String> = rows
            .iter()
            .map(|(l, v)| format!("{}: {}", slack_code(l), slack_code(v)))
            .collect();
        // Clipped inside the fences: a cut-off closing fence would let the evidence
        // out of the code block (formatting, bare-URL links).
        let body = clip(&body.join("\n"), 2900 - "*Evidence*\n``````".len());
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("*Evidence*\n```{body}```") }
        }));
    }
    let steps: Vec<String> = next_steps(alert)
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, slack(s)))
        .collect();
    blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*Next steps*\n{}", steps.join("\n")) } }));
    blocks.push(json!({
        "type": "context",
        "elements": [plain(&format!("kvwatch alert {} (stable id: a repeat is the same alert)", alert.id), 300)]
    }));
    json!({
        // Only notifications show this fallback, as plain text.
        "text": clip(&slack_plain(&format!("{}: {}", headline(alert), alert.summary)), 2900),
        "blocks": blocks,
    })
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "Attention",
        Severity::Medium => "Warning",
        Severity::Low | Severity::Info => "Accent",
    }
}

fn text_block(text: String) -> Value {
    json!({ "type": "TextBlock", "text": text, "wrap": true })
}

fn fact_set(rows: impl IntoIterator<Item = (String, String)>) -> Value {
    let facts: Vec<Value> = rows
        .into_iter()
        .map(|(title, value)| json!({ "title": teams(&title), "value": teams(&clip(&value, 600)) }))
        .collect();
    json!({ "type": "FactSet", "facts": facts })
}

/// A Teams Workflows payload: a message with one Adaptive Card attachment.
pub fn teams_message(alert: &Alert) -> Value {
    let mut body = vec![
        json!({
            "type": "TextBlock", "text": teams(&headline(alert)), "wrap": true,
            "size": "Medium", "weight": "Bolder", "color": colour(alert.severity)
        }),
        text_block(teams(&clip(&alert.summary, 1000))),
        fact_set(facts(alert).into_iter().map(|(l, v)| (l.to_owned(), v))),
    ];
    let rows = evidence_rows(alert);
    if !rows.is_empty() {
        body.push(
            json!({ "type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": true }),
        );
        body.push(fact_set(rows));
    }
    body.push(
        json!({ "type": "TextBlock", "text": "Next steps", "weight": "Bolder", "wrap": true }),
    );
    for (i, step) in next_steps(alert).iter().enumerate() {
        body.push(text_block(format!("{}\\. {}", i + 1, teams(step))));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": { "width": "Full" },
                "body": body,
            }
        }]
    })
}
