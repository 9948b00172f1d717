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

fn fact_set(rows: impl IntoIterator<Item = (String, String)>, max: usize) -> Value {
    let facts: Vec<Value> = rows
        .into_iter()
        .map(|(title, value)| json!({ "title": teams(&title), "value": teams(&clip(&value, max)) }))
        .collect();
    json!({ "type": "FactSet", "facts": facts })
}

/// The most bytes a Teams payload may take. Teams documents 28 KB for a message
/// ("The message size limit is 28 KB", Microsoft Learn, *Create Incoming Webhooks*;
/// "about 28 KB" for Workflows, *Microsoft Teams connector, known limitations*);
/// payloads well below that have been refused in practice, hence the margin.
pub const TEAMS_MAX_BYTES: usize = 20 * 1000;

/// A Teams Workflows payload: a message with one Adaptive Card attachment, within
/// [`TEAMS_MAX_BYTES`]: evidence rows are left out from the last (the card says how
/// many; the alert JSON has them all), then values are clipped shorter.
pub fn teams_message(alert: &Alert) -> Value {
    let rows = evidence_rows(alert);
    let mut keep = rows.len();
    let mut max = 600;
    loop {
        let card = teams_card(alert, &rows[..keep], rows.len() - keep, max);
        let size = serde_json::to_vec(&card).map_or(usize::MAX, |b| b.len());
        if size <= TEAMS_MAX_BYTES || (keep == 0 && max <= 60) {
            return card;
        }
        if keep > 0 {
            keep -= 1;
        } else {
            max /= 2;
        }
    }
}

fn teams_card(alert: &Alert, rows: &[(String, String)], left_out: usize, max: usize) -> Value {
    let mut body = vec![
        json!({
            "type": "TextBlock", "text": teams(&clip(&headline(alert), 600)), "wrap": true,
            "size": "Medium", "weight": "Bolder", "color": colour(alert.severity)
        }),
        text_block(teams(&clip(&alert.summary, (max * 5 / 3).max(100)))),
        fact_set(
            facts(alert).into_iter().map(|(l, v)| (l.to_owned(), v)),
            max,
        ),
    ];
    if !rows.is_empty() || left_out > 0 {
        body.push(
            json!({ "type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": true }),
        );
        body.push(fact_set(rows.iter().cloned(), max));
        if left_out > 0 {
            body.push(text_block(teams(&format!(
                "{left_out} more evidence rows are in the alert JSON ({})",
                alert.id
            ))));
        }
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
