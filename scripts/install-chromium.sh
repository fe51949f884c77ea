#!/usr/bin/env bash
# Headless browser for the OAuth consent e2e tests: Debian's chromium, driven by playwright-core with
# executablePath (no browser download from Playwright's CDN). Installs it when missing, like
# clickhouse-test-server.sh does for ClickHouse. Idempotent; fails loudly when it cannot install.
#   install-chromium.sh          # install if missing, print the path
# Env: CHROMIUM_PATH (default /usr/bin/chromium)
set -euo pipefail
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}

if [ -x "$CHROMIUM_PATH" ]; then echo "$CHROMIUM_PATH"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing at $CHROMIUM_PATH and apt-get is not available to install it" >&2; exit 1
fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "chromium is missing at $CHROMIUM_PATH; installing it needs root (apt-get install chromium)" >&2; exit 1
  fi
else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
started=$(date +%s)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ ! -x "$CHROMIUM_PATH" ]; then echo "apt-get installed chromium but $CHROMIUM_PATH does not exist" >&2; exit 1; fi
echo "installed chromium in $(( $(date +%s) - started )) s: $CHROMIUM_PATH" >&2
echo "$CHROMIUM_PATH"
