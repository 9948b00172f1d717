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
# The advisory database comes from GitHub, which CI cannot reach: check advisories
# only against a copy already on this machine (KVWATCH_ADVISORY_DB, a clone of
# rustsec/advisory-db, is put where cargo-deny looks), and say so otherwise.
kvwatch_advisory_dbs="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if [ -n "${KVWATCH_ADVISORY_DB:-}" ]; then
  mkdir -p "$kvwatch_advisory_dbs"
  ln -sfn "$KVWATCH_ADVISORY_DB" "$kvwatch_advisory_dbs/advisory-db-3157b0e258782691"
fi
if compgen -G "$kvwatch_advisory_dbs/advisory-db-*/crates" >/dev/null; then
  cargo deny --locked --offline check --hide-inclusion-graph advisories
else
  echo "   advisories NOT checked: no RustSec advisory database on this machine (it is fetched"
  echo "   from GitHub); set KVWATCH_ADVISORY_DB to a clone of rustsec/advisory-db, or run"
  echo "   'cargo deny check advisories' where GitHub is reachable"
fi

echo "== tests (release build, shared by every test binary)"
cargo test --release --locked "$@"
