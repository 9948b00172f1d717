//! `kvwatch report` end to end, without a browser: the three formats carry the same
//! content, the report's incidents are exactly the alerts replay prints, and
//! `--principal` narrows it. (The browser test is tests/report/report_browser.rs; the
//! timing against replay is a benchmark, benches/fortnight.rs.)

use std::path::PathBuf;

use clap::Parser;
use kvwatch::cli::args::{Command, RawArgs};
use serde_json::Value;

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-samples")
}

fn run(args: &[&str]) -> anyhow::Result<kvwatch::app::report::ReportOutcome> {
    let mut argv = vec!["kvwatch", "report", "--no-progress"];
    argv.extend_from_slice(args);
    let raw = RawArgs::try_parse_from(&argv)?;
    let Command::Report(raw) = raw.command else {
        anyhow::bail!("not a report")
    };
    kvwatch::app::report::report(kvwatch::cli::report::validate(raw)?)
}

fn replay_alerts(out: &std::path::Path) -> Vec<Value> {
    let samples = samples();
    let argv = [
        "kvwatch",
        "replay",
        "--no-progress",
        samples.to_str().unwrap_or(""),
        "-o",
        out.to_str().unwrap_or(""),
    ];
    let raw = RawArgs::try_parse_from(argv).expect("replay arguments");
    let Command::Replay(raw) = raw.command else {
        panic!("not a replay")
    };
    kvwatch::app::replay::replay(kvwatch::cli::replay::validate(raw).expect("valid"))
        .expect("replay runs");
    std::fs::read_to_string(out)
        .expect("alerts")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an alert"))
        .collect()
}

#[test]
fn json_markdown_and_html_carry_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let html = dir.path().join("r.html");
    let s = samples();
    let s = s.to_str().unwrap();
    let outcome = run(&[s, "--out", json.to_str().unwrap()]).expect("json report");
    run(&[s, "--out", md.to_str().unwrap()]).expect("md report");
    run(&[s, "--format", "html", "--out", html.to_str().unwrap()]).expect("html report");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap())
        .expect("the JSON form is JSON");
    for key in [
        "period",
        "totals",
        "incidents",
        "findings",
        "principals",
        "vaults",
        "checks",
        "notes",
    ] {
        assert!(model.get(key).is_some(), "{key} missing");
    }
    let findings = model["findings"].as_array().unwrap();
    assert_eq!(findings.len(), outcome.findings);
    assert!(
        !findings.is_empty(),
        "the real samples show hygiene findings"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    let html = std::fs::read_to_string(&html).unwrap();
    for f in findings {
        let id = f["id"].as_str().unwrap();
        assert!(
            html.contains(&kvwatch::report::html::esc(id)),
            "{id} in the HTML"
        );
        assert!(
            md.contains(&kvwatch::report::markdown::md(id)),
            "{id} in the Markdown"
        );
    }
    assert!(md.starts_with("# Key Vault activity and hygiene report"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains(kvwatch::report::html::CSP));
}

#[test]
fn incidents_are_exactly_the_replayed_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = replay_alerts(&dir.path().join("alerts.jsonl"));
    let json = dir.path().join("r.json");
    run(&[samples().to_str().unwrap(), "--out", json.to_str().unwrap()]).expect("report");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mut in_report: Vec<String> = model["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            i["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
        })
        .collect();
    let mut replayed: Vec<String> = alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    in_report.sort();
    replayed.sort();
    assert_eq!(in_report, replayed);
}

#[test]
fn principal_narrows_sections_and_findings() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.json");
    run(&[samples().to_str().unwrap(), "--out", all.to_str().unwrap()]).expect("report");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    let principals = model["principals"].as_array().unwrap();
    assert!(principals.len() > 1);
    let pick = principals
        .iter()
        .find(|p| p["upn"].is_string())
        .expect("a principal with a UPN");
    let upn = pick["upn"].as_str().unwrap().to_uppercase();
    let one = dir.path().join("one.json");
    run(&[
        samples().to_str().unwrap(),
        "--principal",
        &upn,
        "--out",
        one.to_str().unwrap(),
    ])
    .expect("report");
    let narrowed: Value = serde_json::from_str(&std::fs::read_to_string(&one).unwrap()).unwrap();
    let sections = narrowed["principals"].as_array().unwrap();
    assert_eq!(sections.len(), 1, "one section for {upn}");
    assert_eq!(sections[0]["identity"], pick["identity"]);
    for f in narrowed["findings"].as_array().unwrap() {
        let p = &f["subject"]["principal"];
        assert!(p.is_null() || *p == pick["identity"], "{f}");
    }
    for i in narrowed["incidents"].as_array().unwrap() {
        assert_eq!(i["identity"], pick["identity"]);
    }
}

#[test]
fn bad_arguments_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.md");
    let err = run(&[
        samples().to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("--format"), "{err}");
    let err = run(&[samples().to_str().unwrap(), "--format", "pdf"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("html, md or json"), "{err}");
    let err = run(&[
        samples().to_str().unwrap(),
        "--out",
        "/no/such/folder/r.html",
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("folder does not exist"), "{err}");
}

#[test]
fn role_assignments_from_the_activity_log_join_the_vault_changes() {
    // sample-logs/ holds an Activity Log beside its audit records: a stolen token
    // grants itself Key Vault Secrets Officer on fab-prod-app-kv before a dump.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let logs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let geoip = logs.join("_geoip.mmdb");
    run(&[
        logs.to_str().unwrap(),
        "--geoip",
        geoip.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ])
    .expect("report");
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let vault = model["vaults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v.to_string().contains("\"fab-prod-app-kv\""))
        .expect("the app vault");
    let text = vault.to_string();
    assert!(
        text.contains("role assignment: Key Vault Secrets Officer")
            && text.contains("not assigned")
            && text.contains("assigned to User 885a98af-50ca-458e-ae2c-0775d7a7dc13"),
        "the self-grant is in the vault's changes: {text}"
    );
    let notes = model["notes"].to_string();
    assert!(!notes.contains("does not read"), "{notes}");
    assert!(
        model["incidents"].to_string().contains("grant_then_read"),
        "the grant -> read incident is in the report"
    );
}

#[test]
fn writes_that_change_nothing_are_a_line_in_the_vault_changes_not_an_incident() {
    // sample-logs/ holds an admin's tag-only portal edit of fab-prod-app-kv (a
    // VaultPatch whose record shows the configuration unchanged).
    let dir = tempfile::tempdir().unwrap();
    let logs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let geoip = logs.join("_geoip.mmdb");
    let (json, md, html) = (
        dir.path().join("r.json"),
        dir.path().join("r.md"),
        dir.path().join("r.html"),
    );
    for (out, format) in [(&json, "json"), (&md, "markdown"), (&html, "html")] {
        run(&[
            logs.to_str().unwrap(),
            "--geoip",
            geoip.to_str().unwrap(),
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ])
        .expect("report");
    }
    let model: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let unchanged: std::collections::BTreeMap<String, u64> = model["vaults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let n = v["unchanged_writes"].as_u64().expect("a count per vault");
            (v["name"].as_str().unwrap().to_owned(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        unchanged,
        std::collections::BTreeMap::from([("fab-prod-app-kv".to_owned(), 1)])
    );
    let line = kvwatch::report::model::unchanged_writes(1);
    assert!(
        line.starts_with("1 write changed nothing visible"),
        "{line}"
    );
    for (form, text) in [
        ("markdown", std::fs::read_to_string(&md).unwrap()),
        ("html", std::fs::read_to_string(&html).unwrap()),
    ] {
        assert!(text.contains(&line), "the {form} report shows {line:?}");
    }
    let incidents = model["incidents"].to_string();
    assert!(
        !incidents.contains("no configuration difference visible"),
        "{incidents}"
    );
}

#[test]
fn role_assignments_from_the_activity_log_give_rbac_findings_in_every_format() {
    // sample-logs/ Activity Log: the deploy pipeline re-applies Key Vault
    // Administrator for two service principals on their vaults every morning.
    let dir = tempfile::tempdir().unwrap();
    let logs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let geoip = logs.join("_geoip.mmdb");
    let mut out = Vec::new();
    for name in ["r.json", "r.md", "r.html"] {
        let path = dir.path().join(name);
        run(&[
            logs.to_str().unwrap(),
            "--geoip",
            geoip.to_str().unwrap(),
            "--out",
            path.to_str().unwrap(),
        ])
        .expect("report");
        out.push(std::fs::read_to_string(&path).unwrap());
    }
    let model: Value = serde_json::from_str(&out[0]).unwrap();
    let id = "rbac.privileged_role/principal:90b24110-f51e-4f4a-8fb2-b0836eb70751";
    let finding = model["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {}", model["findings"]));
    assert_eq!(
        finding["severity"], "low",
        "Key Vault Administrator per vault"
    );
    let vaults: Vec<&str> = finding["evidence"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["vaults"][0].as_str().unwrap())
        .collect();
    assert_eq!(vaults, ["fab-prod-app-kv", "fabpaymentskv", "fab-dev-kv"]);
    let summary = finding["summary"].as_str().unwrap();
    assert!(summary.contains("Key Vault Administrator on vault fab-prod-app-kv"));
    assert!(
        model["checks"]
            .to_string()
            .contains("rbac.unused_assignment"),
        "the method lists the new checks"
    );
    assert!(
        out[1].contains(&kvwatch::report::markdown::md(id))
            && out[1].contains(&kvwatch::report::markdown::md(summary))
    );
    assert!(
        out[2].contains(&kvwatch::report::html::esc(id))
            && out[2].contains(&kvwatch::report::html::esc(summary))
    );
}
