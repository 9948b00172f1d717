#!/usr/bin/env bash
# Peak RSS of `kvwatch replay` on 1,000,000 principals of one record each, all within
# 50 minutes of event time (so the hourly upkeep never runs), with the principal cap at
# 1000 and at the default (200 000): the cap must hold while principals arrive.
#
#   bash benches/principal_flood.sh [PRINCIPALS]     (after cargo build --release)
#
# Prints the replay's summary line and /usr/bin/time -v's maximum resident set size.
set -euo pipefail
n="${1:-1000000}"
bin="${KVWATCH:-target/release/kvwatch}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir/flood.json" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(n):
        ms = i * 3_000_000 // n  # 50 minutes
        t = f"2026-03-02T09:{ms // 60000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
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
  echo "== max_principals = $cap, $n one-record principals"
  /usr/bin/time -v "$bin" replay "$dir/flood.json" --config "$dir/kvwatch.toml" \
    --no-progress --output /dev/null --metrics-out "$dir/m.prom" 2> "$dir/err" || true
  grep -E "^kvwatch:|Maximum resident|Elapsed" "$dir/err"
  grep -E '^kvwatch_principals_(tracked|evicted_total)' "$dir/m.prom" || true
done
