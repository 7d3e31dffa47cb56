#!/usr/bin/env bash
# Builds the Worker: worker/ (crate edgedesk-worker) -> worker/build/index.js + index_bg.wasm
# with `worker-build --release`. wrangler.toml runs this as its [build] command, so
# `wrangler dev` (and every e2e test that starts it) calls it. It builds the browser SDK
# first (scripts/build-web.sh), which the Worker's static assets serve.
#
# Skips the build when worker/build/index.js is newer than every source that can change it
# (core/, worker/ except worker/build, Cargo.toml, Cargo.lock, .cargo/, target/toolchain.env).
# EDGEDESK_FORCE_BUILD=1 builds anyway.
#
# worker-build runs `cargo build --lib --release --target wasm32-unknown-unknown` in worker/,
# which uses the workspace target dir (target/, or $CARGO_TARGET_DIR if set: worker-build
# asks `cargo metadata` where the wasm lands), then wasm-bindgen, wasm-opt and esbuild.
# It would download those three from GitHub; the *_BIN variables below point it at the
# copies from crates.io (wasm-bindgen-cli) and npm (esbuild, binaryen) instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[build-worker] %s\n' "$*"; }
die() { printf '[build-worker] ERROR: %s\n' "$*" >&2; exit 1; }

OUT_DIR="$ROOT/worker/build"
OUT="$OUT_DIR/index.js"
ENV_FILE="$ROOT/target/toolchain.env"

[ -f "$ROOT/worker/Cargo.toml" ] || die "worker/Cargo.toml not found (no edgedesk-worker crate yet)"

if [ ! -f "$ENV_FILE" ]; then
  log "target/toolchain.env missing: running scripts/setup.sh first"
  bash "$ROOT/scripts/setup.sh"
fi

# One build at a time: parallel e2e tests each start `wrangler dev`, which each run this
# script. The first builds, the others wait here and then find the output fresh.
mkdir -p "$ROOT/target"
exec 9>"$ROOT/target/.build-worker.lock"
flock 9

# The browser SDK is served by the same deploy (Workers static assets, web/public/sdk/).
bash "$ROOT/scripts/build-web.sh"

# Prints the first input newer than the output, if any.
newer_input() {
  local inputs=() p
  for p in core worker Cargo.toml Cargo.lock .cargo target/toolchain.env; do
    [ -e "$p" ] && inputs+=("$p")
  done
  find "${inputs[@]}" \( -path worker/build -o -path worker/target \) -prune \
    -o -type f -newer "$OUT" -print -quit
}

if [ "${EDGEDESK_FORCE_BUILD:-0}" != 1 ] && [ -f "$OUT" ] && [ -f "$OUT_DIR/index_bg.wasm" ]; then
  changed="$(newer_input)"
  if [ -z "$changed" ]; then
    log "worker/build is up to date (EDGEDESK_FORCE_BUILD=1 to rebuild)"
    exit 0
  fi
  log "rebuilding: $changed is newer than worker/build/index.js"
fi

# Toolchain for wasm32 (rustup's, or Debian's rustc-web with PATH/RUSTC/CARGO/linker set).
# shellcheck source=/dev/null
. "$ENV_FILE"

CARGO_BIN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
WORKER_BUILD="$CARGO_BIN_DIR/worker-build"
[ -x "$WORKER_BUILD" ] || WORKER_BUILD="$(command -v worker-build || true)"
[ -n "$WORKER_BUILD" ] || die "worker-build not installed: run scripts/setup.sh"

export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$CARGO_BIN_DIR/wasm-bindgen}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
# worker-build silently falls back to downloading when an override does not exist.
for bin in "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$bin" ] || die "$bin not found: run scripts/setup.sh"
done

# A RUSTFLAGS in the environment replaces .cargo/config.toml's wasm32 rustflags, which
# carry getrandom's wasm_js backend; keep that cfg in that case.
if [ -n "${RUSTFLAGS:-}" ] && [[ "$RUSTFLAGS" != *getrandom_backend* ]]; then
  export RUSTFLAGS="$RUSTFLAGS --cfg getrandom_backend=\"wasm_js\""
fi

log "building edgedesk-worker with worker-build --release (toolchain: $EDGEDESK_WASM_TOOLCHAIN, $(rustc --version))"
start=$SECONDS
(cd "$ROOT/worker" && "$WORKER_BUILD" --release)
if [ ! -f "$OUT" ] || [ ! -f "$OUT_DIR/index_bg.wasm" ]; then
  die "worker-build finished but worker/build/index.js or index_bg.wasm is missing"
fi
log "built worker/build in $((SECONDS - start))s ($(du -h "$OUT_DIR/index_bg.wasm" | cut -f1) wasm)"
