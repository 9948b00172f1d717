#!/usr/bin/env bash
# Peak RSS of `kvwatch replay` on 1,000,000 principals of one record each, all within
# 50 minutes of event time (so the hourly upkeep never runs), with the principal cap at
# 1000 and at the default (200 000): the cap must hold while principals arrive.
#
#   bash benches/principal_flood.sh [PRINCIPALS] [MINUTES]   (after cargo build --release)
#
# Prints the replay's summary line, /usr/bin/time -v's maximum resident set size, and
# the final metrics (principals tracked and evicted, state bytes by detector).
# Within one input, the reorder buffer holds the allowed lateness plus an hour of
# events (src/pipeline/mod.rs, INPUT_REORDER_SLACK), so at 50 minutes it holds the
# whole flood whatever the cap; MINUTES = 600 spreads the same principals over ten
# hours, so the peak RSS shows the state rather than the buffer.
set -euo pipefail
n="${1:-1000000}"
minutes="${2:-50}"
bin="${KVWATCH:-target/release/kvwatch}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir/flood.json" "$minutes" <<'PY'
import sys, datetime
n, out, minutes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t0 = datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.timezone.utc)
with open(out, "w") as f:
    for i in range(n):
        ms = i * minutes * 60_000 // n
        t = (t0 + datetime.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        status, result = (403, "Failure") if i % 4 else (200, "Success")
        f.write(
            f'{{"time":"{t}","category":"AuditEvent","operationName":"SecretGet","resultType":"{result}",'
            f'"callerIpAddress":"2001:db8:{i >> 16:x}:{i & 0xffff:x}::1",'
            f'"identity":{{"claim":{{"oid":"f100d000-0000-4000-8000-{i:012d}"}}}},'
            f'"properties":{{"id":"https://kv1.vault.azure.net/secrets/s{i % 7}","httpStatusCode":{status}}},'
            f'"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1"}}\n'
        )
PY
for cap in 1000 default; do
  if [ "$cap" = default ]; then : > "$dir/kvwatch.toml"; else
    printf '[detectors]\nmax_principals = %s\n' "$cap" > "$dir/kvwatch.toml"; fi
  echo "== max_principals = $cap, $n one-record principals over $minutes minutes"
  /usr/bin/time -v "$bin" replay "$dir/flood.json" --config "$dir/kvwatch.toml" \
    --no-progress --output /dev/null --metrics-out "$dir/m.prom" 2> "$dir/err" || true
  grep -E "^kvwatch:|Maximum resident|Elapsed" "$dir/err"
  grep -E '^kvwatch_(principals_evicted_total|principals_tracked\{detector="baselines"|state_bytes)' "$dir/m.prom" || true
done
