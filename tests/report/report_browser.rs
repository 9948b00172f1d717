//! The HTML report, tested as a person would: rendered for the bundled sample logs
//! and opened in headless Chromium, which must load it without a console error or a
//! CSP violation, show every section, draw the charts and resolve every link of the
//! contents. A report built from hostile records must render their markup as text.
//!
//! Needs Chromium: scripts/test.sh installs Debian's `chromium` and exports
//! `KVWATCH_CHROMIUM`; without it the test fails and says so. With
//! `KVWATCH_WRITE_DOCS=1` it also refreshes the screenshot in `docs/report.png`.

use crate::cdp;

use std::path::{Path, PathBuf};

use clap::Parser;
use kvwatch::cli::args::{Command, RawArgs};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sample-logs/` when the simulator has produced it, else the real public samples.
fn sample_inputs() -> PathBuf {
    let samples = repo().join("sample-logs");
    if samples.is_dir() {
        samples
    } else {
        repo().join("tests/fixtures/real-samples")
    }
}

/// Runs `kvwatch report` in-process with these arguments.
fn report(args: &[&str]) {
    let mut argv = vec!["kvwatch", "report", "--no-progress"];
    argv.extend_from_slice(args);
    let raw = RawArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Report(raw) = raw.command else {
        panic!("not a report command line")
    };
    let opts = kvwatch::cli::report::validate(raw).expect("valid report arguments");
    kvwatch::app::report::report(opts).expect("the report runs");
}

fn file_url(path: &Path) -> String {
    format!(
        "file://{}",
        path.canonicalize().expect("the report exists").display()
    )
}

const PAGE_FACTS: &str = r##"JSON.stringify({
  sections: ["summary", "incidents", "findings", "principals", "vaults", "notes"].filter(id => document.getElementById(id)),
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || "",
  charts: document.querySelectorAll("svg.chart").length,
  bars: document.querySelectorAll("svg.chart rect[class^=k]").length,
  timeline: document.querySelectorAll("svg.timeline").length,
  principalSections: document.querySelectorAll("section.principal").length,
  principalCharts: document.querySelectorAll("section.principal svg.chart").length,
  vaultSections: document.querySelectorAll("section.vault").length,
  findings: document.querySelectorAll("#findings article").length,
  incidents: document.querySelectorAll("#incidents article").length,
  brokenLinks: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute("href").slice(1)).filter(id => !document.getElementById(id)),
  active: document.querySelectorAll("script, iframe, object, embed, img, form, link, base").length,
  title: document.title,
  height: document.documentElement.scrollHeight
})"##;

fn facts(browser: &mut cdp::Browser) -> Value {
    let text = browser.eval(PAGE_FACTS);
    serde_json::from_str(text.as_str().expect("a JSON string")).expect("page facts")
}

#[test]
fn the_sample_report_loads_cleanly_in_chromium() {
    let chromium = cdp::chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("report.html");
    let inputs = sample_inputs();
    let mut args = vec![
        inputs.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    let geoip = inputs.join("_geoip.mmdb");
    if geoip.is_file() {
        args.extend(["--geoip", geoip.to_str().expect("utf-8 path")]);
    }
    report(&args);

    let mut browser = cdp::Browser::start(&chromium, 1280, 1800);
    browser.open(&file_url(&out));
    let f = facts(&mut browser);
    let problems = browser.console.problems.clone();
    assert!(
        problems.is_empty(),
        "the page logged problems: {problems:#?}\n(other messages: {:#?})",
        browser.console.other
    );
    let sections: Vec<&str> = f["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        sections,
        [
            "summary",
            "incidents",
            "findings",
            "principals",
            "vaults",
            "notes"
        ],
        "{f:#}"
    );
    assert!(
        f["csp"]
            .as_str()
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{f:#}"
    );
    assert_eq!(
        f["active"], 0,
        "no scripts, frames, images, forms or external links: {f:#}"
    );
    assert!(f["principalSections"].as_u64() > Some(0), "{f:#}");
    assert_eq!(
        f["principalSections"], f["principalCharts"],
        "every principal has its chart: {f:#}"
    );
    assert!(f["vaultSections"].as_u64() > Some(0), "{f:#}");
    assert!(
        f["charts"].as_u64() > Some(2) && f["bars"].as_u64() > Some(0),
        "{f:#}"
    );
    assert!(
        f["findings"].as_u64() > Some(0),
        "the samples show hygiene findings: {f:#}"
    );
    assert_eq!(
        f["brokenLinks"],
        Value::Array(vec![]),
        "every in-page link resolves: {f:#}"
    );
    if f["incidents"].as_u64() > Some(0) {
        assert_eq!(f["timeline"], 1, "{f:#}");
    }

    let png = browser.screenshot();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot ({} bytes)",
        png.len()
    );
    if std::env::var_os("KVWATCH_WRITE_DOCS").is_some() {
        std::fs::write(repo().join("docs/report.png"), &png).expect("docs/report.png written");
    }
}

/// Records whose every free-text field carries markup, control and bidi characters.
fn hostile_records() -> String {
    let ua = r#"<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">\u0007\u202e"#;
    let upn = r#"eve\"><iframe src=//example.invalid></iframe>@contoso.com"#;
    let description =
        r#"</style><style>body{display:none}</style><a href=\"javascript:alert(1)\">x</a>"#;
    let mut lines = Vec::new();
    for (i, status) in [200, 403, 403, 200].iter().enumerate() {
        lines.push(format!(
            r#"{{"time":"2026-03-0{}T10:00:00Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","resultDescription":"{description}","callerIpAddress":"198.51.100.9","identity":{{"claim":{{"oid":"e0e","upn":"{upn}","appid":"<b>app</b>","scp":"user_impersonation","amr":"pwd"}}}},"properties":{{"id":"https://kv1.vault.azure.net/secrets/%3Cscript%3E{i}","clientInfo":"{ua}","httpStatusCode":{status},"isRbacAuthorized":{}}},"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1","resultSignature":"OK","durationMs":"3"}}"#,
            i + 1,
            *status == 200
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn hostile_record_text_renders_as_text_in_chromium() {
    let chromium = cdp::chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("hostile.jsonl");
    std::fs::write(&logs, hostile_records()).expect("hostile logs written");
    let out = dir.path().join("hostile.html");
    report(&[
        logs.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let html = std::fs::read_to_string(&out).expect("report");
    assert!(
        !html.contains("<script") && !html.contains("<iframe") && !html.contains("<img"),
        "markup escaped"
    );
    assert!(
        html.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"),
        "the user agent is shown as text"
    );
    assert!(
        html.contains("\\u{202e}") && !html.contains('\u{202e}'),
        "bidi overrides are shown, not applied"
    );

    let mut browser = cdp::Browser::start(&chromium, 1280, 1000);
    browser.open(&file_url(&out));
    let f = facts(&mut browser);
    assert_eq!(
        browser.eval("typeof window.pwned"),
        "undefined",
        "no record text ran"
    );
    assert_eq!(f["active"], 0, "{f:#}");
    assert!(
        browser.console.problems.is_empty(),
        "{:#?}",
        browser.console.problems
    );
    let shown = browser.eval("document.body.innerText");
    assert!(
        shown
            .as_str()
            .is_some_and(|t| t.contains("<script>window.pwned=1</script>")),
        "the hostile user agent is readable as text"
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.body).display"),
        "block",
        "record text cannot restyle the page"
    );
}

#[test]
fn the_console_check_can_fail() {
    // The harness must see what it is meant to catch: a page under the report's CSP
    // that tries to load an image and run a script logs violations.
    let chromium = cdp::chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("bad.html");
    let csp = kvwatch::report::html::CSP;
    std::fs::write(&page, format!(r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{csp}"></head><body><img src="https://example.invalid/x.png"><script>console.error("ran")</script></body></html>"#)).expect("page");
    let mut browser = cdp::Browser::start(&chromium, 800, 600);
    browser.open(&file_url(&page));
    let problems = browser.console.problems.join("\n");
    assert!(
        !problems.is_empty(),
        "CSP violations must be reported as problems"
    );
    assert!(
        !problems.contains("console.error: ran"),
        "the CSP kept the inline script from running: {problems}"
    );
}
