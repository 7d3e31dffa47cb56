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
# wrangler dev fetches data for request.cf from workers.cloudflare.com at start; offline that
# prints "Unable to fetch the Request.cf object" and a getaddrinfo error. edgedesk does not read
# request.cf, so the fetch is off (a placeholder is used); set it to true to have it back.
export CLOUDFLARE_CF_FETCH_ENABLED="${CLOUDFLARE_CF_FETCH_ENABLED:-false}"

# Local secrets: wrangler dev reads .dev.vars (gitignored). Made once with fresh random keys;
# delete it to get new ones. Production sets the same names with `wrangler secret put`.
random_b64() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }
if [ ! -f .dev.vars ]; then
  (
  umask 077
  cat > .dev.vars <<VARS
# Local secrets for \`wrangler dev\` (gitignored; made by scripts/dev.sh). README: Auth.
# Token keys, kid:base64url-secret[,…]: the first signs, all verify.
EDGEDESK_JWT_KEYS=dev-1:$(random_b64 | tr '+/' '-_' | tr -d '=')
# Public widget site keys, site_key:workspace[,…].
EDGEDESK_SITE_KEYS=demo-site:demo
# Storage master keys, kid:base64-32-byte-key[,…]: the first is current.
EDGEDESK_MASTER_KEYS=m-1:$(random_b64)
VARS
  )
  echo "[dev] wrote .dev.vars with fresh random keys (delete it to make new ones)"
elif ! grep -q '^EDGEDESK_MASTER_KEYS=' .dev.vars; then
  # A .dev.vars from before encryption at rest: add a master key, keep everything else.
  printf '# Storage master keys, kid:base64-32-byte-key[,…]: the first is current.\nEDGEDESK_MASTER_KEYS=m-1:%s\n' \
    "$(random_b64)" >> .dev.vars
  echo "[dev] added a fresh EDGEDESK_MASTER_KEYS to .dev.vars"
fi

cat <<MSG

edgedesk dev server (wrangler dev on workerd), state persisted in .wrangler/state
  listening on  http://127.0.0.1:${PORT}
  demo shop     http://127.0.0.1:${PORT}/demo/     (a page with the visitor widget)
  agent console http://127.0.0.1:${PORT}/console/  (workspace "demo"; the sign-in emails and
                passwords are printed below once the relay answers, or use an agent token)
  health        curl http://127.0.0.1:${PORT}/health
  visitor token curl -s -X POST http://127.0.0.1:${PORT}/v1/widget/session \\
                  -H 'content-type: application/json' -d '{"site_key":"demo-site"}'
                (an anonymous visitor in a new conversation of workspace "demo")
  agent token   (set -a; . ./.dev.vars; node examples/mint-token.mjs \\
                  --workspace demo --sub agent-1 --role agent --name "Agent One")
  connect with  ws://127.0.0.1:${PORT}/v1/workspaces/demo/conversations/{id}/connect?device=d1
                with the header Authorization: Bearer <token> (or &access_token=<token>);
                one WebSocket per conversation per device, binary frames: see PROTOCOL.md
  stop with     Ctrl-C

MSG

# The demo workspace gets examples/demo-config.json once the relay answers, unless it was
# ever configured (If-Match: 0 = only if no version exists; 412 otherwise), so the demo shows
# the workflow (welcome, off-hours, FAQ and handoff replies, tags) and an admin's own
# configuration is never overwritten. The first build can take minutes: wait up to 20.
seed_demo_config() {
  local base="http://127.0.0.1:${PORT}" admin status
  for _ in $(seq 1 1200); do
    curl -sf -o /dev/null "$base/health" && break
    sleep 1
  done
  admin="$(set -a; . ./.dev.vars; node examples/mint-token.mjs --workspace demo --sub dev-seed --role admin --ttl 60)" || return 0
  status="$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$base/v1/workspaces/demo/config" \
    -H "Authorization: Bearer $admin" -H 'content-type: application/json' -H 'If-Match: 0' \
    --data-binary @examples/demo-config.json)" || return 0
  case "$status" in
    200) echo "[dev] workspace demo configured with examples/demo-config.json (README: Workspace configuration)" ;;
    412) ;; # configured before: left as it is
    *) echo "[dev] could not configure workspace demo with examples/demo-config.json (HTTP $status)" ;;
  esac
  node scripts/demo-accounts.mjs "$base" "$admin" .wrangler/state/demo-accounts.json ||
    echo "[dev] could not create the demo's accounts (see above)"
}
seed_demo_config &

# The same binary `npx wrangler` runs, without npx's lookup/prompt.
exec "$ROOT/node_modules/.bin/wrangler" dev --ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state "$@"
