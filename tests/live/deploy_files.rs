//! `deploy/` passes the validators operators and CI use (installed by
//! `scripts/setup/validators.sh` and `scripts/setup/prometheus.sh`): kubernetes-validate
//! (strict, offline schemas) for the manifests, hadolint for the container recipe,
//! yamllint for every YAML file, the Compose Specification schema for the compose file,
//! and promtool for the Prometheus config and rules. The manifests also say what the
//! design asks: replicas, probes, requests, workload identity, secrets by reference.
//! (Docker cannot run on the CI machine: the image is linted, not built.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool the setup scripts export, or a failure saying how to get it.
pub fn tool(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) if Path::new(&path).exists() => PathBuf::from(path),
        _ => panic!(
            "{var} is not set or missing: run `bash scripts/test.sh`, or source \
             scripts/setup/python.sh, validators.sh and prometheus.sh first"
        ),
    }
}

/// Runs `tool` with `args` in the repository; fails the test with its output unless
/// it succeeds.
fn passes(var: &str, args: &[&str]) -> String {
    let out = Command::new(tool(var))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{var}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{var} {args:?} failed:\n{text}");
    text
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const MANIFESTS: &[&str] = &[
    "deploy/kubernetes/serviceaccount.yaml",
    "deploy/kubernetes/configmap.yaml",
    "deploy/kubernetes/deployment.yaml",
    "deploy/kubernetes/poddisruptionbudget.yaml",
    "deploy/kubernetes/podmonitor.yaml",
];

#[test]
fn the_kubernetes_manifests_pass_strict_schema_validation() {
    let mut args = vec!["--strict", "--kubernetes-version", "1.33.0"];
    args.extend(MANIFESTS);
    let report = passes("KVWATCH_KUBERNETES_VALIDATE", &args);
    for kind in [
        "serviceaccount",
        "configmap",
        "deployment",
        "poddisruptionbudget",
    ] {
        assert!(
            report.contains(&format!("passed for resource {kind}/")),
            "{kind}:\n{report}"
        );
    }
    let kustomization = read("deploy/kubernetes/kustomization.yaml");
    for manifest in MANIFESTS {
        let name = manifest.rsplit('/').next().unwrap_or_default();
        assert!(
            kustomization.contains(name),
            "kustomization.yaml lists {name}"
        );
    }
}

#[test]
fn the_deployment_follows_the_design() {
    let deployment = read("deploy/kubernetes/deployment.yaml");
    for wanted in [
        "replicas: 3",
        "serviceAccountName: kvwatch",
        "azure.workload.identity/use: \"true\"",
        "path: /healthz",
        "path: /readyz",
        "memory: 256Mi",
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "secretName: kvwatch-secrets",
    ] {
        assert!(deployment.contains(wanted), "deployment.yaml: {wanted}");
    }
    let config = read("deploy/kubernetes/configmap.yaml");
    assert!(config.contains("kind = \"workload_identity\""));
    assert!(
        config.contains("file = \"/etc/kvwatch/secrets/webhook-url\""),
        "secrets by reference"
    );
    // The ConfigMap's file is a config kvwatch loads, with the coordination on.
    let toml: String = config
        .split_once("kvwatch.toml: |\n")
        .expect("the kvwatch.toml key")
        .1
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("kvwatch.toml"), toml).expect("write");
    let loaded = kvwatch::config::Config::load(&dir.path().join("kvwatch.toml"))
        .unwrap_or_else(|e| panic!("configmap.yaml's kvwatch.toml does not load: {e}"));
    let coordination = loaded.coordination.expect("[coordination] is on");
    assert_eq!(coordination.container, "kvwatch-coordination");
    let account = read("deploy/kubernetes/serviceaccount.yaml");
    assert!(account.contains("azure.workload.identity/client-id"));
}

#[test]
fn the_container_recipe_passes_hadolint() {
    passes("KVWATCH_HADOLINT", &["deploy/Containerfile"]);
    let recipe = read("deploy/Containerfile");
    assert_eq!(
        recipe.matches("\nFROM ").count() + usize::from(recipe.starts_with("FROM ")),
        2,
        "two stages"
    );
    assert!(
        recipe.contains("USER 65532:65532"),
        "a non-root runtime user"
    );
}

#[test]
fn every_yaml_file_of_deploy_passes_yamllint() {
    passes(
        "KVWATCH_YAMLLINT",
        &["--strict", "-c", "deploy/.yamllint.yaml", "deploy/"],
    );
}

#[test]
fn the_compose_file_matches_the_compose_specification() {
    passes(
        "KVWATCH_CHECK_JSONSCHEMA",
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/compose.yaml",
        ],
    );
    let compose = read("deploy/compose.yaml");
    for wanted in [
        "--embedded",
        "prometheus.yml",
        "../dashboards:/var/lib/grafana/dashboards",
    ] {
        assert!(compose.contains(wanted), "compose.yaml: {wanted}");
    }
}

#[test]
fn the_prometheus_config_and_rules_of_deploy_load() {
    let report = passes(
        "KVWATCH_PROMTOOL",
        &["check", "config", "deploy/prometheus/prometheus.yml"],
    );
    assert!(report.contains("1 rule files found"), "{report}");
    let report = passes(
        "KVWATCH_PROMTOOL",
        &[
            "check",
            "rules",
            "deploy/prometheus/rules/kvwatch-alerts.rules.yml",
        ],
    );
    assert!(report.contains("SUCCESS"), "{report}");
}
