//! The shipped detector files load (and their examples pass); broken files are
//! refused with errors that name the file and the key or example. The list of
//! detectors comes from the registry, never from this file.

use std::path::Path;

use kvwatch::config::Config;
use kvwatch::detect::build_detectors;
use kvwatch::detect::detectors::REGISTRY;

fn with_dir(files: &[(&str, String)]) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let mut config = Config::default();
    config.detectors.dir = Some(dir.path().to_owned());
    (dir, config)
}

fn builtin(name: &str) -> String {
    REGISTRY
        .iter()
        .find(|r| r.file.ends_with(name))
        .map(|r| r.text.to_owned())
        .expect("shipped")
}

#[test]
fn shipped_detectors_load_and_their_examples_pass() {
    let detectors = build_detectors(&Config::default().detectors).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = detectors.iter().map(|d| d.name()).collect();
    let registered: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
    assert_eq!(
        names, registered,
        "every registered detector runs, in order"
    );
}

#[test]
fn every_file_in_the_detectors_folder_is_registered_under_its_own_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("detectors");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("the detectors folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".toml"))
        .map(|f| format!("detectors/{f}"))
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = REGISTRY.iter().map(|r| r.file.to_owned()).collect();
    registered.sort();
    assert_eq!(on_disk, registered);
    for r in REGISTRY {
        assert_eq!(r.file, format!("detectors/{}.toml", r.name));
        assert!(!r.next_steps.is_empty(), "{}: next steps", r.name);
    }
}

#[test]
fn the_repo_folder_matches_the_embedded_files() {
    for r in REGISTRY {
        let on_disk = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(r.file))
            .expect("in the repo");
        assert_eq!(on_disk, r.text, "{}", r.file);
    }
}

#[test]
fn errors_name_the_file_and_the_key() {
    let table: Vec<(&str, String, &str)> = vec![
        (
            "failed_auth.toml",
            builtin("failed_auth.toml").replace("min_denials = 8", "min_denails = 8"),
            "unknown field `min_denails`",
        ),
        (
            "failed_auth.toml",
            builtin("failed_auth.toml").replace("min_denials = 8", "min_denials = 1"),
            "`principal.min_denials`",
        ),
        (
            "unusual_geo.toml",
            builtin("unusual_geo.toml").replace("max_speed_kmh = 1000.0", "max_speed_kmh = 5.0"),
            "`impossible_travel.max_speed_kmh`",
        ),
        (
            "unusual_geo.toml",
            builtin("unusual_geo.toml")
                .replace("place_radius_km = 100.0", "place_radius_km = 400.0"),
            "`impossible_travel.place_radius_km`",
        ),
        (
            "unusual_geo.toml",
            builtin("unusual_geo.toml").replace("kinds = [\"user\"]", "kinds = [\"robot\"]"),
            "unknown principal kind \"robot\"",
        ),
        (
            "unusual_geo.toml",
            builtin("unusual_geo.toml").replace("min_new_objects = 6", "min_new_objects = 1"),
            "`borrowed_identity.min_new_objects`",
        ),
        (
            "unusual_geo.toml",
            builtin("unusual_geo.toml").replace("window = \"30m\"", "window = \"2d\""),
            "`borrowed_identity.window`",
        ),
        (
            "bulk.toml",
            builtin("bulk_secret_retrieval.toml").replace("window = \"6h\"", "window = \"5m\""),
            "`long.window`",
        ),
        (
            "bulk.toml",
            builtin("bulk_secret_retrieval.toml")
                .replace("min_new_objects = 12", "min_new_objects = 1"),
            "`novelty.min_new_objects`",
        ),
        (
            "bulk.toml",
            builtin("bulk_secret_retrieval.toml").replace("min_share = 0.5", "min_share = 1.5"),
            "`new_principal.min_share`",
        ),
        (
            "bulk.toml",
            builtin("bulk_secret_retrieval.toml")
                .replace("max_back_to_back = 3", "max_back_to_back = 0"),
            "`runs.max_back_to_back`",
        ),
        (
            "bulk.toml",
            // Runs that never count: the largest window rules again.
            builtin("bulk_secret_retrieval.toml")
                .replace("min_runs_per_kind = 2", "min_runs_per_kind = 1000"),
            "example \"a release pipeline running its two release definitions",
        ),
        (
            "bulk.toml",
            builtin("bulk_secret_retrieval.toml")
                .replace("severity = \"high\" }", "severity = \"low\" }"),
            "example \"a brand-new app listing",
        ),
        (
            "access.toml",
            builtin("access_policy_change.toml").replace("start = ", "x"),
            "",
        ),
        (
            "control.toml",
            builtin("control_plane.toml")
                .replace("role_removed = \"info\"", "role_removed = \"high\""),
            "`severity.role_removed`",
        ),
        (
            "control.toml",
            builtin("control_plane.toml")
                .replace("chain_window = \"6h\"", "chain_window = \"10s\""),
            "`grant.chain_window`",
        ),
        (
            "destructive.toml",
            builtin("destructive_operations.toml").replace("min_distinct = 8", "min_distinct = 1"),
            "`window.min_distinct`",
        ),
        (
            "x.toml",
            "[detector]\nname = \"port_scan\"\n".to_owned(),
            "not a detector kvwatch has",
        ),
        (
            "y.toml",
            "[thresholds]\n".to_owned(),
            "needs a [detector] table",
        ),
    ];
    for (name, text, want) in table {
        let (_dir, config) = with_dir(&[(name, text)]);
        match build_detectors(&config.detectors) {
            Ok(_) if want.is_empty() => {}
            Ok(_) => panic!("{name}: expected an error containing {want:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(name), "{msg}");
                assert!(msg.contains(want), "want {want:?} in {msg}");
            }
        }
    }
}

#[test]
fn a_folder_may_disable_or_omit_detectors() {
    let off = builtin("failed_auth.toml").replace("enabled = true", "enabled = false");
    let (_dir, config) = with_dir(&[
        ("failed_auth.toml", off),
        ("unusual_geo.toml", builtin("unusual_geo.toml")),
    ]);
    let names: Vec<&str> = build_detectors(&config.detectors)
        .expect("loads")
        .iter()
        .map(|d| d.name())
        .collect();
    assert_eq!(names, ["unusual_geo"]);
}
