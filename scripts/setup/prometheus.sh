# Sourced by scripts/test.sh: makes Prometheus and promtool available to the tests.
#
# The metrics tests check the exposition with `promtool check metrics`, the alerting
# rules and the dashboards' PromQL with `promtool check rules` / `promtool test
# rules`, and scrape a running kvwatch with a real Prometheus server. Debian's
# `prometheus` package brings both binaries; it is installed when missing, without
# starting the Debian service (the tests start their own server on 127.0.0.1).
# Idempotent: a second run finds the binaries and installs nothing.

kvwatch_find_prometheus() {
  KVWATCH_PROMETHEUS="${KVWATCH_PROMETHEUS:-$(command -v prometheus || true)}"
  KVWATCH_PROMTOOL="${KVWATCH_PROMTOOL:-$(command -v promtool || true)}"
}

kvwatch_find_prometheus
if [ -z "$KVWATCH_PROMETHEUS" ] || [ -z "$KVWATCH_PROMTOOL" ]; then
  echo "== setup: installing Debian's prometheus package (prometheus, promtool)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/prometheus.sh: prometheus is missing and this is not root; install it with 'apt-get install prometheus'" >&2
    return 1
  fi
  # Keep the package's maintainer scripts from starting the system service: a
  # policy-rc.d that refuses every start, removed again afterwards (unless one was
  # already there).
  kvwatch_policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    kvwatch_policy_added=1
  fi
  kvwatch_apt_status=0
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null ||
      kvwatch_apt_status=$?
  fi
  if [ -n "$kvwatch_policy_added" ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  if [ "$kvwatch_apt_status" -ne 0 ]; then
    echo "scripts/setup/prometheus.sh: apt-get install prometheus failed" >&2
    return 1
  fi
  unset KVWATCH_PROMETHEUS KVWATCH_PROMTOOL
  kvwatch_find_prometheus
fi
if [ -z "$KVWATCH_PROMETHEUS" ] || [ -z "$KVWATCH_PROMTOOL" ]; then
  echo "scripts/setup/prometheus.sh: prometheus or promtool still missing after the install" >&2
  return 1
fi
export KVWATCH_PROMETHEUS KVWATCH_PROMTOOL
echo "== setup: prometheus $("$KVWATCH_PROMETHEUS" --version 2>&1 | head -n1 | awk '{print $3}') at $KVWATCH_PROMETHEUS, promtool at $KVWATCH_PROMTOOL"
