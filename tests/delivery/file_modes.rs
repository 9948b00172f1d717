//! What kvwatch writes to disk is readable by its own account only, whatever the
//! umask: the state store, the outbox, the file sink's archive and `--output`, and
//! the folders created for them; a secret file others can read is warned about.
//! Through the real binary, started with `umask 000`.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn state_outbox_and_outputs_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::access_policy_detector_only(root);
    let fixture = root.join("grants.jsonl");
    support::grants_fixture(&fixture, 3, |i| format!("admin{i}@contoso.com"));
    // A secret file as `cp` leaves it under umask 022: readable by everyone.
    let url_file = root.join("teams-url");
    std::fs::write(&url_file, "https://example.invalid/workflows/abc").unwrap();
    std::fs::set_permissions(&url_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = root.join("kvwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[detectors]\ndir = \"detectors\"\n\n[outbox]\npath = \"var/lib/outbox.redb\"\n\n\
             [[sinks]]\nkind = \"file\"\nname = \"archive\"\npath = \"archive/alerts.jsonl\"\n\n\
             [[sinks]]\nkind = \"teams\"\nname = \"never-routed\"\ndetectors = [\"no_such_detector\"]\nurl = {{ file = {:?} }}\n",
            url_file.display().to_string()
        ),
    )
    .unwrap();
    std::fs::create_dir(root.join("archive")).unwrap();
    let out = unsafe {
        Command::new(env!("CARGO_BIN_EXE_kvwatch"))
            .args(["replay", "--no-progress", "--config"])
            .arg(&config)
            .arg("--state")
            .arg(root.join("var/state/replay.redb"))
            .arg("-o")
            .arg(root.join("alerts.jsonl"))
            .arg(&fixture)
            // SAFETY: umask is async-signal-safe and touches only the child.
            .pre_exec(|| {
                libc::umask(0);
                Ok(())
            })
            .output()
            .expect("kvwatch runs")
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for file in [
        "var/state/replay.redb",
        "var/lib/outbox.redb",
        "archive/alerts.jsonl",
        "alerts.jsonl",
    ] {
        let m = mode(&root.join(file));
        assert_eq!(m & 0o077, 0, "{file} is mode {m:o}");
    }
    for folder in ["var", "var/state", "var/lib"] {
        let m = mode(&root.join(folder));
        assert_eq!(m & 0o077, 0, "{folder}/ is mode {m:o}");
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("teams-url") && l.contains("readable by")),
        "a warning names the secret file others can read:\n{stderr}"
    );
}
