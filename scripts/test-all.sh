#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (root), builds, and runs every test.
# The same command runs in CI (.ci/run) and on a developer's machine: `npm run test:all`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v nfcapd >/dev/null 2>&1 || need+=(nfdump)
command -v nfacctd >/dev/null 2>&1 || need+=(pmacct)
# The HTML report's browser test drives Debian's Chromium (puppeteer-core, no browser download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test:all: missing ${need[*]}; run as root or install them: apt-get install -y tshark nfdump pmacct chromium" >&2
    exit 1
  fi
  echo "test:all: installing ${need[*]} (Debian packages) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer before it asks.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # A freshly booted VM may still be running unattended-upgrades: wait for the dpkg lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi

[ -d node_modules ] || npm ci
# vitest's global setup builds dist/ for the tests that run the real CLI; this checks test types too.
npx tsc -p tsconfig.json --noEmit
# ESLint (type-aware; the stage import rule) and the formatter check.
npm run lint
# The real-decoder tests must not silently skip in CI.
export NSG2IPFIX_REQUIRE_DECODERS=1
npx vitest run "$@"
