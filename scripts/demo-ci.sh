#!/usr/bin/env bash
# demo-ci.sh: `dojang demo` against a fresh `npm start`, twice (it must be repeatable),
# as the README promises. Run from the repository root after `npm ci`. The service's
# ledger goes in a fresh ledger-data/ (moved aside and put back if one exists).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${DEMO_PORT:-8080}"
backup=""
if [ -n "$(ls -A ledger-data 2>/dev/null | grep -v '^.gitkeep$' || true)" ]; then
  backup="$(mktemp -d)"
  find ledger-data -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec mv {} "$backup"/ \;
fi
healthy() { node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "http://127.0.0.1:$port/healthz"; }
if healthy; then echo "demo-ci: something already serves port $port: set DEMO_PORT" >&2; exit 1; fi
log="$(mktemp)"
# Job control: npm start and what it starts (the build, then dojang serve) run in a
# process group of their own, stopped as one by its id.
set -m
npm start -- --port "$port" >"$log" 2>&1 &
pid=$!
set +m
cleanup() {
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done # dojang serve closes its store
  find ledger-data -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
  if [ -n "$backup" ]; then mv "$backup"/* ledger-data/ && rmdir "$backup"; fi
  rm -f "$log"
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  if healthy; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; echo "demo-ci: npm start exited" >&2; exit 1; fi
  sleep 1
done
healthy || { cat "$log" >&2; echo "demo-ci: the service did not come up" >&2; exit 1; }
node dist/cli/main.js demo --url "http://127.0.0.1:$port" --data ledger-data
node dist/cli/main.js demo --url "http://127.0.0.1:$port" --data ledger-data >/dev/null
echo "demo-ci: the demo passed twice against a fresh npm start"
