//! Wording shared by detectors' summaries, so every alert names people, durations
//! and lists the same way ("user alice@contoso.com (oid 30a6…)", "4 minutes",
//! "db-password, api-key and 35 more").

use crate::event::{AuditEvent, PrincipalKind};

/// Who made a request, for a summary.
pub fn who(e: &AuditEvent<'_>) -> String {
    let p = &e.principal;
    let oid = p.oid.as_deref();
    match p.kind {
        PrincipalKind::User => match (p.upn.as_deref(), oid) {
            (Some(upn), Some(oid)) => format!("user {upn} (oid {oid})"),
            (Some(upn), None) => format!("user {upn}"),
            (None, Some(oid)) => format!("user oid {oid}"),
            (None, None) => format!("user {}", e.identity()),
        },
        PrincipalKind::ManagedIdentity => {
            let name = p
                .xms_mirid
                .as_deref()
                .and_then(|m| m.rsplit('/').next())
                .unwrap_or("?");
            format!("managed identity {name} (oid {})", oid.unwrap_or("?"))
        }
        PrincipalKind::ServicePrincipal => match (p.appid.as_deref(), oid) {
            (Some(app), Some(oid)) if app != oid => {
                format!("service principal oid {oid} (app {app})")
            }
            (Some(app), _) => format!("service principal app {app}"),
            (None, Some(oid)) => format!("service principal oid {oid}"),
            (None, None) => format!("service principal {}", e.identity()),
        },
        PrincipalKind::Anonymous => match e.caller_ip {
            Some(ip) => format!("an anonymous caller at {ip}"),
            None => "an anonymous caller".to_owned(),
        },
    }
}

/// A duration in words: `37 seconds`, `4 minutes`, `2 h 10 min`, `3 days`.
pub fn duration(secs: u32) -> String {
    match secs {
        0..=1 => "1 second".to_owned(),
        2..=119 => format!("{secs} seconds"),
        120..=5399 => format!("{} minutes", (secs + 30) / 60),
        5400..=172_799 => {
            let (h, m) = (secs / 3600, (secs % 3600) / 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
        _ => format!("{:.1} days", f64::from(secs) / 86_400.0),
    }
}

/// `a, b, c and 4 more` (at most `show` items named).
pub fn list(items: &[String], total: usize, show: usize) -> String {
    let named: Vec<&str> = items.iter().take(show).map(String::as_str).collect();
    let rest = total.saturating_sub(named.len());
    match (named.len(), rest) {
        (0, _) => String::new(),
        (_, 0) if named.len() == 1 => named[0].to_owned(),
        (_, 0) => format!(
            "{} and {}",
            named[..named.len() - 1].join(", "),
            named[named.len() - 1]
        ),
        (_, r) => format!("{} and {r} more", named.join(", ")),
    }
}

/// `1 secret`, `37 secrets`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A probability for people: `1 in 2.3 million`, `< 1 in 10^12`.
pub fn odds(p: f64) -> String {
    if p.is_nan() || p < 1e-12 {
        return "less than 1 in a trillion".to_owned();
    }
    let inv = 1.0 / p;
    if inv >= 1e9 {
        format!("1 in {:.1} billion", inv / 1e9)
    } else if inv >= 1e6 {
        format!("1 in {:.1} million", inv / 1e6)
    } else if inv >= 1e3 {
        format!("1 in {:.0} thousand", inv / 1e3)
    } else {
        format!("1 in {:.0}", inv.max(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(duration(240), "4 minutes");
        assert_eq!(duration(7800), "2 h 10 min");
        assert_eq!(list(&["a".into(), "b".into()], 2, 5), "a and b");
        assert_eq!(list(&["a".into(), "b".into()], 37, 2), "a, b and 35 more");
        assert_eq!(plural(1, "secret", "secrets"), "1 secret");
        assert_eq!(odds(1e-7), "1 in 10.0 million");
    }
}
