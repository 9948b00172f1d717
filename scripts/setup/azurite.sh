# Sourced by scripts/test.sh: Azurite, Microsoft's Blob Storage emulator, for the
# coordination tests (tests/coordinate/: ownership, fencing, snapshots and the
# checkpoint-store layout against a real Blob service on 127.0.0.1).
#
# The npm package is pinned (3.35.0 is the newest that runs on Node 20; 3.37 needs
# Node 22) and installed once per machine under the user's cache folder, shared by
# every checkout. Node and npm come from Debian when they are missing. The tests
# start their own `azurite-blob` (in memory, port 0, 127.0.0.1 only, no telemetry).
#
# Exports:
#   KVWATCH_AZURITE   the azurite-blob launcher
# Idempotent: a second run finds the pinned version and installs nothing.

KVWATCH_AZURITE_VERSION="3.35.0"
kvwatch_azurite_dir="${XDG_CACHE_HOME:-$HOME/.cache}/kvwatch/azurite-$KVWATCH_AZURITE_VERSION"

kvwatch_azurite_installed() {
  [ -x "$kvwatch_azurite_dir/node_modules/.bin/azurite-blob" ] &&
    grep -q "\"version\": \"$KVWATCH_AZURITE_VERSION\"" "$kvwatch_azurite_dir/node_modules/azurite/package.json" 2>/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== setup: installing Debian's nodejs and npm (for Azurite)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/azurite.sh: node or npm is missing and this is not root; install them with 'apt-get install nodejs npm'" >&2
    return 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

if ! kvwatch_azurite_installed; then
  echo "== setup: installing azurite@$KVWATCH_AZURITE_VERSION from npm into $kvwatch_azurite_dir"
  # Install next to the final folder and rename it into place, so two checkouts
  # setting up at once never see half an installation.
  mkdir -p "$(dirname "$kvwatch_azurite_dir")"
  kvwatch_azurite_tmp="$(mktemp -d "${kvwatch_azurite_dir}.tmp.XXXXXX")"
  if ! npm install --prefix "$kvwatch_azurite_tmp" --no-audit --no-fund --loglevel=error \
      "azurite@$KVWATCH_AZURITE_VERSION" >/dev/null; then
    rm -rf "$kvwatch_azurite_tmp"
    echo "scripts/setup/azurite.sh: npm install azurite@$KVWATCH_AZURITE_VERSION failed" >&2
    return 1
  fi
  rm -rf "$kvwatch_azurite_dir"
  # -T: when another checkout won the race, keep its folder and drop ours.
  mv -T "$kvwatch_azurite_tmp" "$kvwatch_azurite_dir" 2>/dev/null || rm -rf "$kvwatch_azurite_tmp"
fi
if ! kvwatch_azurite_installed; then
  echo "scripts/setup/azurite.sh: azurite $KVWATCH_AZURITE_VERSION still missing after the install" >&2
  return 1
fi
export KVWATCH_AZURITE="$kvwatch_azurite_dir/node_modules/.bin/azurite-blob"
echo "== setup: azurite $KVWATCH_AZURITE_VERSION at $KVWATCH_AZURITE"
