//! Size bounds on an alert: the names and summary a record supplies are clipped, and
//! the evidence as a whole is held to a budget, so one tampered record (a 400 KB
//! UPN) cannot make an alert no sink can deliver.
//!
//! What is clipped ends with `…`, and the evidence says so: `clipped` maps each
//! clipped field to its original length (characters; bytes for the evidence), so an
//! analyst knows the record carried more. The bounds leave every real value whole: a
//! UPN has at most 113 characters in Microsoft Entra ID ("userPrincipalName",
//! Microsoft Graph user resource), object and application ids are 36, vault names
//! 3 to 24, and the detectors' summaries a few hundred.

use serde_json::{Map, Value};

use super::Alert;

/// The longest name kept (`principal.upn`, `.oid`, `.appid`, `identity`, `vault`).
pub const MAX_NAME: usize = 256;
/// The longest summary kept.
pub const MAX_SUMMARY: usize = 2000;
/// The most bytes the evidence may take as JSON; past it, its largest values are
/// replaced by a note of their size.
pub const MAX_EVIDENCE_BYTES: usize = 32 * 1024;
/// The most bytes an alert takes as JSON (the README's bound): the evidence budget
/// plus every clipped field at its longest, escaped.
pub const MAX_ALERT_BYTES: usize = 64 * 1024;

/// The evidence key listing what was clipped.
pub const CLIPPED: &str = "clipped";

impl Alert {
    /// The alert within its bounds (see the module documentation).
    pub fn bounded(mut self) -> Alert {
        let mut clipped = Map::new();
        let p = &mut self.principal;
        for (name, field) in [
            ("principal.upn", &mut p.upn),
            ("principal.oid", &mut p.oid),
            ("principal.appid", &mut p.appid),
        ] {
            if let Some(text) = field {
                clip(text, MAX_NAME, name, &mut clipped);
            }
        }
        clip(&mut p.kind, MAX_NAME, "principal.kind", &mut clipped);
        clip(&mut self.identity, MAX_NAME, "identity", &mut clipped);
        clip(&mut self.vault, MAX_NAME, "vault", &mut clipped);
        clip(&mut self.rule, MAX_NAME, "rule", &mut clipped);
        clip(&mut self.summary, MAX_SUMMARY, "summary", &mut clipped);
        self.evidence.0.remove(CLIPPED);
        let evidence_bytes = json_len(&Value::Object(self.evidence.0.clone()));
        if evidence_bytes > MAX_EVIDENCE_BYTES {
            shrink(&mut self.evidence.0, evidence_bytes);
            clipped.insert("evidence".into(), Value::from(evidence_bytes));
        }
        if !clipped.is_empty() {
            self.evidence
                .0
                .insert(CLIPPED.into(), Value::Object(clipped));
        }
        self
    }
}

/// Clips `text` to `max` characters (the last one `…`), noting its length.
fn clip(text: &mut String, max: usize, name: &str, clipped: &mut Map<String, Value>) {
    let chars = text.chars().count();
    if chars <= max {
        return;
    }
    let cut = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i);
    text.truncate(cut);
    text.push('…');
    clipped.insert(name.to_owned(), Value::from(chars));
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// Replaces the largest top-level evidence values by a note of their size until
/// the whole fits [`MAX_EVIDENCE_BYTES`]; `observed`, `baseline` and `expected` go
/// last, as they are what an analyst judges the alert by.
fn shrink(evidence: &mut Map<String, Value>, mut total: usize) {
    let mut sizes: Vec<(bool, usize, String)> = evidence
        .iter()
        .map(|(k, v)| {
            let leading = matches!(k.as_str(), "observed" | "baseline" | "expected");
            (leading, json_len(v), k.clone())
        })
        .collect();
    // Others before the leading keys, largest first.
    sizes.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (_, size, key) in sizes {
        if total <= MAX_EVIDENCE_BYTES {
            break;
        }
        let note = Value::from(format!("… ({size} bytes, clipped)"));
        total = total.saturating_sub(size) + json_len(&note);
        evidence.insert(key, note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::sink::sample;

    #[test]
    fn long_fields_are_clipped_with_their_length_in_the_evidence() {
        let mut a = sample::alert(1, Severity::High);
        a.principal.upn = Some(format!("{}@contoso.com", "é".repeat(300_000)));
        a.summary = "s".repeat(10_000);
        let before = a.clone();
        let b = a.bounded();
        let upn = b.principal.upn.as_deref().unwrap();
        assert_eq!(upn.chars().count(), MAX_NAME);
        assert!(upn.ends_with('…'));
        assert_eq!(b.summary.chars().count(), MAX_SUMMARY);
        let clipped = b.evidence.get(CLIPPED).unwrap();
        assert_eq!(clipped["principal.upn"], Value::from(300_012));
        assert_eq!(clipped["summary"], Value::from(10_000));
        assert_eq!(b.evidence.get("observed"), before.evidence.get("observed"));
        assert!(b.to_json_line().len() <= MAX_ALERT_BYTES);
    }

    #[test]
    fn an_alert_within_bounds_is_unchanged() {
        let a = sample::alert(2, Severity::Low);
        assert_eq!(a.clone().bounded(), a);
        let h = sample::hostile_alert();
        assert_eq!(h.clone().bounded(), h);
    }

    #[test]
    fn the_evidence_as_a_whole_has_a_budget() {
        let mut a = sample::alert(3, Severity::High);
        for i in 0..60 {
            let list = vec!["\u{1}".repeat(500); 10];
            let nested = serde_json::json!({ "a": { "b": { "c": list } } });
            a.evidence.insert(&format!("k{i}"), nested);
        }
        let b = a.bounded();
        let json = b.to_json_line();
        assert!(json.len() <= MAX_ALERT_BYTES, "{}", json.len());
        assert!(b.evidence.get("observed").is_some());
        assert!(
            b.evidence.get(CLIPPED).unwrap()["evidence"]
                .as_u64()
                .unwrap()
                > 60_000
        );
    }
}
