#!/usr/bin/env bash
# Fuzzes kvwatch's hostile-input surface with cargo-fuzz (libFuzzer), one target
# after another, for a bounded time each, and prints what each run did.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60 (the acceptance runs used 600 or more). With no
# TARGET every target in fuzz/Cargo.toml runs. Findings land in fuzz/artifacts/<target>/
# (crash-*, timeout-*, oom-*); reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> <file>
# then add it as a regression test (tests/decode/hostile_input.rs holds the earlier ones).
#
# How this works on a stable-only toolchain: cargo-fuzz drives rustc with -Z flags
# (coverage instrumentation options, and -Zsanitizer when one is asked for), which
# only nightly accepts. RUSTC_BOOTSTRAP=1 lets the stable compiler accept them; no
# nightly toolchain is fetched. cargo-fuzz itself comes from crates.io (pinned below)
# and libFuzzer is compiled from the libfuzzer-sys crate (needs a C++ compiler).
#
# Environment:
#   KVWATCH_FUZZ_SANITIZER  none (default: kvwatch has no unsafe code, and without
#                           ASan the targets run several times faster) or address
#   KVWATCH_FUZZ_NICE       niceness of the fuzzing processes (default 10)
#   KVWATCH_FUZZ_NO_BUILD   1: fuzz the binaries already in fuzz/target (built by an
#                           earlier run) without rebuilding, e.g. while the work tree
#                           is mid-edit
#
# The corpus grows in fuzz/corpus/<target>/ (not committed); the committed seeds are
# in fuzz/seeds/, built from tests/fixtures/real-samples. Logs: fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION="0.13.2"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
sanitizer="${KVWATCH_FUZZ_SANITIZER:-none}"
niceness="${KVWATCH_FUZZ_NICE:-10}"

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
  echo "== fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io"
  cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
# The fuzz project is its own workspace with its own target folder, whatever the
# caller's CARGO_TARGET_DIR says.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
build_flags=(--sanitizer "$sanitizer" --debug-assertions)

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Which seed folders start each target's corpus.
seeds_for() {
  case "$1" in
    decode_json_lines) echo "fuzz/seeds/json_lines" ;;
    decode_event_hubs) echo "fuzz/seeds/event_hubs" ;;
    decode_log_analytics_json) echo "fuzz/seeds/log_analytics_json" ;;
    decode_log_analytics_csv) echo "fuzz/seeds/log_analytics_csv" ;;
    decode_gzip) echo "fuzz/seeds/gzip" ;;
    decode_record) echo "fuzz/seeds/record" ;;
    decode_activity_log) echo "fuzz/seeds/activity_log fuzz/seeds/json_lines" ;;
    config_parse) echo "fuzz/seeds/config" ;;
    *) echo fuzz/seeds/json_lines fuzz/seeds/event_hubs fuzz/seeds/log_analytics_json fuzz/seeds/log_analytics_csv fuzz/seeds/record ;;
  esac
}

if [ "${KVWATCH_FUZZ_NO_BUILD:-0}" != 1 ]; then
  echo "== fuzz: building ${targets[*]} (sanitizer: $sanitizer)"
  for target in "${targets[@]}"; do
    nice -n "$niceness" cargo fuzz build "${build_flags[@]}" "$target"
  done
fi
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

mkdir -p fuzz/logs
failed=()
summary=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  log="fuzz/logs/$target.log"
  echo "== fuzz: $target for ${seconds}s (log: $log)"
  started=$(date +%s)
  status=0
  # The binary cargo fuzz built, run directly (cargo fuzz run would rebuild first).
  # shellcheck disable=SC2046 # seeds_for gives several folders for decode_auto
  nice -n "$niceness" "$bin_dir/$target" "$corpus" $(seeds_for "$target") \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -dict=fuzz/dicts/kvwatch.dict -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1 || status=$?
  elapsed=$(( $(date +%s) - started ))
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -n 1)
  inputs=$(find "$corpus" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    result="no finding"
  else
    result="FINDING (exit $status): see $log and fuzz/artifacts/$target/"
    failed+=("$target")
  fi
  line=$(printf '%-28s %6ss %12s execs %6s corpus  %s' "$target" "$elapsed" "$execs" "$inputs" "$result")
  summary+=("$line")
  echo "$line"
done

echo "== fuzz: summary (${seconds}s per target, sanitizer $sanitizer)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
