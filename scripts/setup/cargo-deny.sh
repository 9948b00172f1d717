# Sourced by scripts/test.sh: makes cargo-deny available for the supply-chain check
# (`cargo deny check`, configured by deny.toml).
#
# cargo-deny is built from crates.io at a pinned version (a few minutes, once per
# machine). Its advisory check reads the RustSec database that
# scripts/setup/advisory-db.sh puts in place (offline, from the snapshot in
# ../shared or a newer copy).
#
# Exports:
#   KVWATCH_CARGO_DENY   the cargo-deny binary
# Idempotent: a second run finds the pinned version and installs nothing.

KVWATCH_CARGO_DENY_VERSION="0.20.2"

kvwatch_find_cargo_deny() {
  KVWATCH_CARGO_DENY="$(command -v cargo-deny || true)"
  if [ -n "$KVWATCH_CARGO_DENY" ] && ! "$KVWATCH_CARGO_DENY" --version 2>/dev/null | grep -q " $KVWATCH_CARGO_DENY_VERSION\$"; then
    KVWATCH_CARGO_DENY=""
  fi
}

kvwatch_find_cargo_deny
if [ -z "$KVWATCH_CARGO_DENY" ]; then
  echo "== setup: installing cargo-deny $KVWATCH_CARGO_DENY_VERSION from crates.io (once per machine)"
  if ! cargo install --locked --quiet "cargo-deny@$KVWATCH_CARGO_DENY_VERSION"; then
    echo "scripts/setup/cargo-deny.sh: cargo install cargo-deny@$KVWATCH_CARGO_DENY_VERSION failed" >&2
    return 1
  fi
  kvwatch_find_cargo_deny
fi
if [ -z "$KVWATCH_CARGO_DENY" ]; then
  echo "scripts/setup/cargo-deny.sh: cargo-deny $KVWATCH_CARGO_DENY_VERSION still missing after the install" >&2
  return 1
fi
export KVWATCH_CARGO_DENY
echo "== setup: cargo-deny $KVWATCH_CARGO_DENY_VERSION at $KVWATCH_CARGO_DENY"
