# Sourced by scripts/test.sh: puts the RustSec advisory database where cargo-deny
# reads it, so `cargo deny check advisories` runs on every CI run, offline.
#
# cargo-deny reads the database as a git repository in $CARGO_HOME/advisory-dbs/,
# in a folder named after the database URL. CI reaches package registries only,
# not GitHub, so the database comes from a snapshot beside the repository:
#
#   ../shared/rustsec-advisory-db.tar.gz   rustsec/advisory-db at commit bf5c0d2,
#                                           2026-08-21, files only (advisory-db/…)
#
# (../../shared when the repository is a worktree in a folder of worktrees).
#
# This script unpacks it, makes it a git repository with one commit dated like the
# snapshot, and moves it into place. The newest copy at hand wins, by commit date:
# the snapshot, a database already in place (a clone `cargo deny fetch` made where
# GitHub is reachable, or a snapshot set up earlier), or KVWATCH_ADVISORY_DB (a
# clone of rustsec/advisory-db). A newer snapshot is used by naming it in
# KVWATCH_ADVISORY_DB_SNAPSHOT with its date in KVWATCH_ADVISORY_DB_SNAPSHOT_DATE.
#
# Exports:
#   KVWATCH_ADVISORY_DB_DIR   the database cargo-deny reads
# Idempotent: a second run finds the database in place and changes nothing.

kvwatch_advisory_setup() {
  # ../shared beside a clone; ../../shared beside a worktree in a folder of them.
  local snapshot="${KVWATCH_ADVISORY_DB_SNAPSHOT:-../shared/rustsec-advisory-db.tar.gz}"
  if [ -z "${KVWATCH_ADVISORY_DB_SNAPSHOT:-}" ] && [ ! -f "$snapshot" ] &&
    [ -f ../../shared/rustsec-advisory-db.tar.gz ]; then
    snapshot=../../shared/rustsec-advisory-db.tar.gz
  fi
  local snapshot_date="${KVWATCH_ADVISORY_DB_SNAPSHOT_DATE:-2026-08-21T00:00:00Z}"
  local root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
  # The folder cargo-deny 0.20 derives from https://github.com/RustSec/advisory-db.
  local target="$root/advisory-db-3157b0e258782691"
  local snapshot_time current_time=0 clone_time=0
  snapshot_time="$(date -u -d "$snapshot_date" +%s)" || return 1

  # The commit time of a database folder, or nothing when it is not one.
  kvwatch_advisory_time() {
    [ -d "$1/crates" ] || return 1
    git -C "$1" log -1 --format=%ct 2>/dev/null
  }

  current_time="$(kvwatch_advisory_time "$target" || echo 0)"
  if [ -n "${KVWATCH_ADVISORY_DB:-}" ]; then
    clone_time="$(kvwatch_advisory_time "$KVWATCH_ADVISORY_DB" || echo 0)"
    if [ "$clone_time" -eq 0 ]; then
      echo "scripts/setup/advisory-db.sh: KVWATCH_ADVISORY_DB=$KVWATCH_ADVISORY_DB is not a clone of rustsec/advisory-db" >&2
      return 1
    fi
  fi

  if [ "$clone_time" -gt "$current_time" ] && [ "$clone_time" -ge "$snapshot_time" ]; then
    mkdir -p "$root"
    rm -rf "$target"
    ln -sfn "$KVWATCH_ADVISORY_DB" "$target"
    current_time="$clone_time"
    echo "== setup: advisory database: the clone in KVWATCH_ADVISORY_DB"
  elif [ "$current_time" -ge "$snapshot_time" ]; then
    echo "== setup: advisory database already in place"
  elif [ -f "$snapshot" ]; then
    echo "== setup: advisory database from $snapshot ($snapshot_date)"
    mkdir -p "$root"
    local work
    work="$(mktemp -d "$root/.snapshot.XXXXXX")" || return 1
    if ! tar -xzf "$snapshot" -C "$work" || [ ! -d "$work/advisory-db/crates" ]; then
      echo "scripts/setup/advisory-db.sh: $snapshot does not hold advisory-db/crates" >&2
      rm -rf "$work"
      return 1
    fi
    if ! (
      cd "$work/advisory-db" &&
        git init -q &&
        git add -A &&
        GIT_AUTHOR_DATE="$snapshot_date" GIT_COMMITTER_DATE="$snapshot_date" \
          git -c user.name="kvwatch CI" -c user.email="ci@kvwatch.invalid" \
          -c commit.gpgsign=false commit -q -m "RustSec advisory-db snapshot ($snapshot_date)"
    ); then
      echo "scripts/setup/advisory-db.sh: cannot commit the snapshot" >&2
      rm -rf "$work"
      return 1
    fi
    # Replace what is there only now that the new copy is whole; another run that
    # got there first with an equally new copy is as good.
    rm -rf "$target.old"
    [ -e "$target" ] && mv "$target" "$target.old"
    if ! mv -T "$work/advisory-db" "$target"; then
      [ "$(kvwatch_advisory_time "$target" || echo 0)" -ge "$snapshot_time" ] || return 1
    fi
    rm -rf "$work" "$target.old"
    current_time="$snapshot_time"
  else
    echo "scripts/setup/advisory-db.sh: no RustSec advisory database: $snapshot is missing and none is in $target; set KVWATCH_ADVISORY_DB to a clone of https://github.com/rustsec/advisory-db" >&2
    return 1
  fi

  KVWATCH_ADVISORY_DB_DIR="$target"
  export KVWATCH_ADVISORY_DB_DIR
  echo "   advisories as of $(date -u -d "@$current_time" +%Y-%m-%d), in $target"
}

kvwatch_advisory_setup
