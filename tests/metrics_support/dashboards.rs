//! The Grafana dashboards' PromQL: every panel target and variable query, with
//! Grafana's variables replaced so Prometheus tools can check and run them.

use std::path::PathBuf;

use serde_json::Value;

/// One PromQL expression of a dashboard.
#[derive(Debug, Clone)]
pub struct Query {
    /// The dashboard file name.
    pub dashboard: String,
    /// The dashboard title.
    pub dashboard_title: String,
    /// The panel title.
    pub panel: String,
    /// The target's refId.
    pub ref_id: String,
    /// The target's legend format.
    pub legend: String,
    /// The expression as written (Grafana variables included).
    pub expr: String,
}

/// The dashboard files.
pub fn files() -> Vec<PathBuf> {
    let dir = super::repo().join("dashboards");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dashboards/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

/// A parsed dashboard.
pub fn load(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).expect("readable dashboard");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every panel, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every panel target's expression, in dashboard order.
pub fn queries() -> Vec<Query> {
    let mut out = Vec::new();
    for path in files() {
        let d = load(&path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        for panel in panels(&d) {
            for t in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = t["expr"].as_str() else {
                    continue;
                };
                out.push(Query {
                    dashboard: name.clone(),
                    dashboard_title: d["title"].as_str().unwrap_or("").to_owned(),
                    panel: panel["title"].as_str().unwrap_or("").to_owned(),
                    ref_id: t["refId"].as_str().unwrap_or("").to_owned(),
                    legend: t["legendFormat"].as_str().unwrap_or("").to_owned(),
                    expr: expr.to_owned(),
                });
            }
        }
    }
    out
}

/// The variable queries (`label_values(selector, label)`), as PromQL selectors.
pub fn variable_selectors() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in files() {
        let d = load(&path);
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            if v["type"] != "query" {
                continue;
            }
            let q = v["definition"].as_str().unwrap_or("");
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: variable {}: expected label_values(selector, label), got {q:?}",
                        path.display(),
                        v["name"]
                    )
                });
            let (selector, label) = inner.rsplit_once(',').unwrap_or((inner, ""));
            out.push((selector.trim().to_owned(), label.trim().to_owned()));
        }
    }
    out
}

/// Replaces Grafana's variables: intervals by `window`, `$instance`-style
/// selections by `.*`. Panics on a variable it does not know.
pub fn substitute(expr: &str, window: &str) -> String {
    let mut s = expr
        .replace("$__rate_interval", window)
        .replace("$__interval", window)
        .replace("$__range", window);
    for var in ["instance", "vault"] {
        s = s
            .replace(&format!("${{{var}}}"), ".*")
            .replace(&format!("${var}"), ".*");
    }
    assert!(!s.contains('$'), "unknown Grafana variable in {expr:?}");
    s
}

/// The `kvwatch_…` and `up` metric names an expression reads.
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && expr[i..].starts_with("kvwatch_") {
            let end = expr[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(expr.len(), |n| i + n);
            out.push(expr[i..end].to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The family a sample name belongs to (histogram series carry suffixes).
pub fn family_of(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}
