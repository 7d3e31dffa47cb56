#!/usr/bin/env bash
# Runs edgedesk locally: setup (fast when done), then `wrangler dev` on workerd, which runs
# scripts/build-worker.sh first and rebuilds when core/src or worker/src change.
# Environment: PORT (default 8787), extra args are passed to `wrangler dev`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

PORT="${PORT:-8787}"
export WRANGLER_SEND_METRICS=false

cat <<MSG

edgedesk dev server (wrangler dev on workerd), state persisted in .wrangler/state
  listening on  http://127.0.0.1:${PORT}
  health        curl http://127.0.0.1:${PORT}/health
  connect with  ws://127.0.0.1:${PORT}/v1/conversations/{id}/connect?role=visitor&participant=v1&device=d1
                (role visitor|agent|admin; optional name=...; one WebSocket per conversation
                per device, binary frames: see PROTOCOL.md)
  stop with     Ctrl-C

MSG

# The same binary `npx wrangler` runs, without npx's lookup/prompt.
exec "$ROOT/node_modules/.bin/wrangler" dev --ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state "$@"
