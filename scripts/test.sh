#!/usr/bin/env bash
# Runs every check: setup, wasm32 builds of the SDK and the Worker, then the whole test suite
# (unit tests + end-to-end tests, which start `wrangler dev` themselves). Exits non-zero on
# the first failure. Used by `npm test` and by CI (.ci/run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export WRANGLER_SEND_METRICS=false
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n[test] == %s\n' "$*"; }
T0=$SECONDS

step "setup"
bash scripts/setup.sh

step "no import cycles among the files of core, worker and client-sdk (scripts/check-import-cycles.py)"
python3 scripts/check-import-cycles.py core/src worker/src client-sdk/src
# The check itself can fail: two files naming each other are a cycle.
CYC="$(mktemp -d)"
printf 'use crate::b::B;\npub struct A;\n' > "$CYC/a.rs"
printf 'pub struct B(crate::a::A);\n' > "$CYC/b.rs"
if python3 scripts/check-import-cycles.py "$CYC" > /dev/null; then
  echo "check-import-cycles.py missed a cycle" >&2
  exit 1
fi
rm -rf "$CYC"

step "wasm32 build of the SDK (edgedesk-client)"
(
  # shellcheck source=/dev/null
  . target/toolchain.env
  cargo build --target wasm32-unknown-unknown -p edgedesk-client
)

step "wasm32 build of the Worker (scripts/build-worker.sh)"
bash scripts/build-worker.sh

step "web SDK (scripts/build-web.sh: wasm-bindgen into web/public/sdk/)"
bash scripts/build-web.sh

step "deploy check: wrangler deploy --dry-run bundles the Worker within the platform's size limit"
DRY="$(mktemp -d)"
node_modules/.bin/wrangler deploy --dry-run --outdir "$DRY/out" | tee "$DRY/log"
# wrangler prints "Total Upload: <n> KiB / gzip: <n> KiB". A Worker on the free plan may be
# 3 MiB gzipped (10 MiB on a paid plan); the README states the current size.
python3 - "$DRY/log" <<'PY'
import re, sys
m = re.findall(r"gzip: ([0-9.]+) KiB", open(sys.argv[1]).read())
if not m:
    sys.exit("wrangler printed no bundle size")
gz = float(m[-1])
print(f"[test] Worker bundle: {gz:.0f} KiB gzipped; the free plan's limit is 3072 KiB")
sys.exit(0 if gz <= 3072 else f"the bundle ({gz:.0f} KiB gzipped) exceeds 3072 KiB")
PY
rm -rf "$DRY"

step "tsc: the JS package's declarations type-check examples/web-app"
node_modules/.bin/tsc -p examples/web-app/tsconfig.json

step "tsc: the widget and the console (// @ts-check JS) type-check against the SDK's declarations"
node_modules/.bin/tsc -p web/tsconfig.json

step "node tests: the console's live order is the server's, its view in the URL; the example token minter"
node --test web/order.test.mjs web/view_url.test.mjs examples/mint-token.test.mjs

step "cargo test --workspace (unit + e2e incl. browser tests; native rustup toolchain)"
cargo test --workspace

step "peer bench, reduced (edgedesk and the automerge-repo sync server, figures only)"
# 30 s per wait: on a loaded 2-core machine the automerge-repo server, restarted after a
# kill -9, once took over 10 s to greet a new device (it loads its documents first).
cargo run -q -p edgedesk-e2e --bin peer_bench -- \
  --rounds 2 --sizes 200 --probe 50 --writers 20 --per-writer 10 --stream-seconds 2 --timeout 30000

# ---- more steps go here -----------------------------------------------------------------
# e.g. clippy/fmt, doc tests of PROTOCOL.md. Each: step "what"; command (set -e stops on failure).
# -----------------------------------------------------------------------------------------

printf '\n[test] all steps passed in %ss\n' "$((SECONDS - T0))"
