//! Text made safe for the medium it is shown in. Every value in an alert or a report
//! can come from an attacker (a UPN, an object name, a user agent): control and
//! bidirectional-override characters become visible `\u{..}` escapes everywhere, then
//! HTML, Slack mrkdwn or Teams markdown characters are neutralised, so markup renders
//! as the text it is.
//!
//! A leaf module: the alert renderers (`sink::render`) and the investigation report
//! (`report`) both use it, and neither owns it.

/// Text with control, bidi-override and zero-width characters shown as `\u{..}`.
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let risky = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{2028}' | '\u{2029}');
        if risky {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Escaped for HTML text and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped for a Slack `plain_text` object: `&`, `<`, `>` as entities, so no link,
/// mention or `<!channel>` can form.
pub fn slack_plain(text: &str) -> String {
    inert(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped for Slack mrkdwn: as [`slack_plain`], and formatting characters get a
/// word joiner after them so they cannot pair into bold, italic, strike or code.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push('\u{2060}');
            }
            c => out.push(c),
        }
    }
    out
}

/// Escaped for the inside of a Slack code block (where only entities and backticks matter).
pub fn slack_code(text: &str) -> String {
    inert(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "\u{2035}")
}

/// Escaped for Teams (Adaptive Card) markdown: markup characters backslash-escaped,
/// and `{{` (card template functions) broken apart.
pub fn teams(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
