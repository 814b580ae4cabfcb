#!/usr/bin/env bash
# What the browser tests need, pinned and idempotent:
#   - Debian's chromium and chromium-driver at one version (the driver
#     depends on exactly its browser's version, so they cannot drift apart);
#     when Debian's security updates have replaced the pinned build, the
#     current one is installed with a warning;
#   - the portal's npm packages at the versions in portal/package-lock.json
#     (axe-core for the accessibility checks), installed with `npm ci`;
#   - a check that the vendored oidc-client-ts in portal/web/vendor is
#     byte for byte the pinned npm release.
# Nothing is downloaded while the tests run.
# Usage: scripts/install_browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM_VERSION=156.0.8078.114-1~deb12u1
APT_PINS=("chromium=$CHROMIUM_VERSION" "chromium-driver=$CHROMIUM_VERSION")

say() { echo "    $*"; }
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  say "chromium and chromedriver already installed"
else
  apt_install() {
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q \
      --no-install-recommends "$@" >/dev/null
  }
  say "apt-get install ${APT_PINS[*]}"
  if ! apt_install "${APT_PINS[@]}"; then
    say "apt-get update"
    "${SUDO[@]}" apt-get update -q >/dev/null
    if ! apt_install "${APT_PINS[@]}"; then
      echo "WARNING: chromium $CHROMIUM_VERSION is gone from Debian; installing the current version" >&2
      apt_install chromium chromium-driver
    fi
  fi
fi
say "$(/usr/bin/chromium --version 2>/dev/null | head -1) / $(/usr/bin/chromedriver --version | head -1)"

installed() { node -p "require('./portal/node_modules/$1/package.json').version" 2>/dev/null; }
pinned() { node -p "require('./portal/package-lock.json').packages['node_modules/$1'].version"; }
if [ "$(installed axe-core)" = "$(pinned axe-core)" ] &&
  [ "$(installed oidc-client-ts)" = "$(pinned oidc-client-ts)" ]; then
  say "portal npm packages already at their pins"
else
  say "npm ci (portal/)"
  (cd portal && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
cmp portal/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js \
  portal/web/vendor/oidc-client-ts.min.js ||
  { echo "portal/web/vendor/oidc-client-ts.min.js differs from the pinned npm release" >&2; exit 1; }
say "axe-core $(node -p 'require("./portal/node_modules/axe-core/package.json").version'), oidc-client-ts $(node -p 'require("./portal/node_modules/oidc-client-ts/package.json").version') (vendored copy identical)"
