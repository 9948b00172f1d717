#!/usr/bin/env bash
# The test command from the README, and what CI runs (.ci/run calls exactly this).
#
# It installs and prepares everything the tests need (each scripts/setup/*.sh is
# idempotent and binds nothing but 127.0.0.1), then builds once, in release mode,
# and runs the whole suite. Tests that need an external tool find it through the
# KVWATCH_* variables exported by the setup scripts, and fail with a clear message
# when it is missing, never silently pass.
set -euo pipefail
cd "$(dirname "$0")/.."

for setup in scripts/setup/*.sh; do
  [ -e "$setup" ] || continue
  # shellcheck source=/dev/null
  source "$setup"
done

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --release --all-targets --locked -- -D warnings

echo "== supply chain (cargo deny, deny.toml)"
cargo deny --locked check --hide-inclusion-graph licenses bans sources
# Against the advisory database scripts/setup/advisory-db.sh put in place (the
# RustSec snapshot in ../shared, or a newer copy); a finding fails the run unless
# deny.toml explains it.
cargo deny --locked --offline check --hide-inclusion-graph advisories

echo "== tests (release build, shared by every test binary)"
cargo test --release --locked "$@"
