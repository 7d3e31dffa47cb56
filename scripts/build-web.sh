#!/usr/bin/env bash
# Builds the browser SDK: client-sdk/ (crate edgedesk-client, src/web) compiled to wasm32 as a
# cdylib, bound to JavaScript by wasm-bindgen (--target web: an ES module that loads its
# .wasm beside it), shrunk by wasm-opt, into web/public/sdk/ — the npm package
# @edgedesk/client and, through Workers static assets, what /sdk/ serves to the widget and
# the console. scripts/build-worker.sh (wrangler's [build] command) runs this too, so
# `wrangler dev` and `wrangler deploy` always ship a fresh SDK.
#
# Skips itself when web/public/sdk is newer than every input. EDGEDESK_FORCE_BUILD=1 builds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[build-web] %s\n' "$*"; }
die() { printf '[build-web] ERROR: %s\n' "$*" >&2; exit 1; }

OUT_DIR="$ROOT/web/public/sdk"
STAMP="$OUT_DIR/edgedesk_bg.wasm"
ENV_FILE="$ROOT/target/toolchain.env"
[ -f "$ENV_FILE" ] || bash "$ROOT/scripts/setup.sh"

mkdir -p "$ROOT/target"
exec 8>"$ROOT/target/.build-web.lock"
flock 8

newer_input() {
  local inputs=() p
  for p in core/src core/Cargo.toml client-sdk Cargo.toml Cargo.lock .cargo target/toolchain.env scripts/build-web.sh; do
    [ -e "$p" ] && inputs+=("$p")
  done
  find "${inputs[@]}" -type f -newer "$STAMP" -print -quit
}

if [ "${EDGEDESK_FORCE_BUILD:-0}" != 1 ] && [ -f "$STAMP" ] && [ -f "$OUT_DIR/edgedesk.js" ]; then
  changed="$(newer_input)"
  if [ -z "$changed" ]; then
    log "web/public/sdk is up to date (EDGEDESK_FORCE_BUILD=1 to rebuild)"
    exit 0
  fi
  log "rebuilding: $changed is newer than the SDK"
fi

# shellcheck source=/dev/null
. "$ENV_FILE"
CARGO_BIN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
WASM_BINDGEN="${WASM_BINDGEN_BIN:-$CARGO_BIN_DIR/wasm-bindgen}"
WASM_OPT="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
[ -x "$WASM_BINDGEN" ] || die "$WASM_BINDGEN not found: run scripts/setup.sh"
[ -x "$WASM_OPT" ] || die "$WASM_OPT not found: run scripts/setup.sh"
if [ -n "${RUSTFLAGS:-}" ] && [[ "$RUSTFLAGS" != *getrandom_backend* ]]; then
  export RUSTFLAGS="$RUSTFLAGS --cfg getrandom_backend=\"wasm_js\""
fi

start=$SECONDS
log "cargo rustc -p edgedesk-client --crate-type cdylib --release (wasm32; toolchain: $EDGEDESK_WASM_TOOLCHAIN)"
cargo rustc -p edgedesk-client --lib --release --target wasm32-unknown-unknown --crate-type cdylib
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
WASM="$TARGET_DIR/wasm32-unknown-unknown/release/edgedesk_client.wasm"
[ -f "$WASM" ] || die "cargo finished but $WASM is missing"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$WASM_BINDGEN" --target web --out-dir "$TMP" --out-name edgedesk "$WASM"
"$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$TMP/edgedesk_bg.wasm" -o "$TMP/edgedesk_bg.opt.wasm"
mv "$TMP/edgedesk_bg.opt.wasm" "$TMP/edgedesk_bg.wasm"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
cat >"$TMP/package.json" <<JSON
{
  "name": "@edgedesk/client",
  "version": "${VERSION:-0.0.0}",
  "description": "edgedesk's browser SDK: offline-first chat replicas (Automerge) synced with an edgedesk relay",
  "license": "Apache-2.0",
  "type": "module",
  "main": "edgedesk.js",
  "module": "edgedesk.js",
  "types": "edgedesk.d.ts",
  "exports": { ".": { "types": "./edgedesk.d.ts", "default": "./edgedesk.js" } },
  "files": ["edgedesk.js", "edgedesk.d.ts", "edgedesk_bg.wasm", "edgedesk_bg.wasm.d.ts"],
  "sideEffects": false
}
JSON
rm -rf "$OUT_DIR.new"
mkdir -p "$(dirname "$OUT_DIR")"
cp -r "$TMP" "$OUT_DIR.new"
chmod 755 "$OUT_DIR.new"
rm -rf "$OUT_DIR"
mv "$OUT_DIR.new" "$OUT_DIR"
gz="$(gzip -9 -c "$OUT_DIR/edgedesk_bg.wasm" | wc -c)"
log "built web/public/sdk in $((SECONDS - start))s ($(du -h "$OUT_DIR/edgedesk_bg.wasm" | cut -f1) wasm, $((gz / 1024)) KiB gzipped)"
