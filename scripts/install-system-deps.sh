#!/usr/bin/env bash
# install-system-deps.sh installs the Debian packages that `npm run test:system` needs:
# Go and golang.org/x/mod (for the outside verifier in scripts/go-verify/), Chromium
# and a Korean font (the /verify page test), qpdf and poppler-utils (the view-only PDF test),
# openssl (the RFC 3161 time-stamping authority of the timestamp test).
# Idempotent and quiet: packages already present are skipped, and `apt-get update`
# runs at most once, only when something is missing. Needs root (CI runs as root).
set -euo pipefail

packages=(golang-go golang-golang-x-mod-dev chromium fonts-noto-cjk qpdf poppler-utils openssl)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Quiet on success; the whole apt output on failure.
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-system-deps: apt-get failed for: ${missing[*]}" >&2
  exit 1
fi
echo "install-system-deps: installed ${missing[*]}"
