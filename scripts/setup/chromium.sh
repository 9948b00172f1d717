# Sourced by scripts/test.sh: headless Chromium for the report's browser test
# (tests/report/report_browser.rs opens the rendered HTML report in it and checks the page).
#
# Exports:
#   KVWATCH_CHROMIUM  the Chromium binary (Debian's `chromium` package)
# Idempotent: when /usr/bin/chromium is there, nothing is installed.

if [ ! -x /usr/bin/chromium ]; then
  echo "== setup: installing Debian's chromium (for the report's browser test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export KVWATCH_CHROMIUM=/usr/bin/chromium
