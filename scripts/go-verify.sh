#!/usr/bin/env bash
# go-verify.sh builds the outside verifier scripts/go-verify into scripts/go-verify/bin/.
#
# It installs nothing and uses no network: Go and golang.org/x/mod come from Debian
# (scripts/install-system-deps.sh: golang-go, golang-golang-x-mod-dev), and the build
# runs in GOPATH mode against Debian's sources under /usr/share/gocode.
# Set GO_VERIFY_GOPATH to use another GOPATH holding golang.org/x/mod.
# Prints the path of the binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/go-verify"
out="$src/bin"
gopath="${GO_VERIFY_GOPATH:-/usr/share/gocode}"

if ! command -v go >/dev/null 2>&1; then
  echo "go-verify.sh: no 'go' on PATH; run scripts/install-system-deps.sh (Debian golang-go)" >&2
  exit 1
fi
if [ ! -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ]; then
  echo "go-verify.sh: golang.org/x/mod not found under $gopath/src; run scripts/install-system-deps.sh (Debian golang-golang-x-mod-dev)" >&2
  exit 1
fi

mkdir -p "$out"
# Go's default build cache when it has one (HOME set), else one beside the binary.
gocache="${GOCACHE:-$(go env GOCACHE 2>/dev/null || true)}"
if [ -z "$gocache" ] || [ "$gocache" = off ]; then
  gocache="$out/.gocache"
fi
cd "$src"
env GO111MODULE=off GOPATH="$gopath" GOPROXY=off GOFLAGS= GOCACHE="$gocache" \
  go build -trimpath -o "$out/go-verify" .
echo "$out/go-verify"
