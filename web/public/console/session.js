// @ts-check
// The console's sign-in session (PROTOCOL.md §2.9): a password sign-in gives a short access
// token and a refresh token; the console refreshes a minute before the access token expires,
// one tab at a time (a Web Lock), and every tab adopts what the others stored. A token pasted
// from the operator's backend has no refresh token and is used until it expires.

/** @typedef {{ workspace: string, token: string, refresh?: string, expiresAt?: number }} Session */

/** Refresh this long before the access token's expiry. */
export const REFRESH_AHEAD_MS = 60_000;

/** A relay's refusal as an Error whose message says what to do, with the relay's code. */
async function refusal(response, what) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON: the status says enough */
  }
  const e = new Error(body.message || `${what} failed (HTTP ${response.status})`);
  /** @type {any} */ (e).code = body.error || `http_${response.status}`;
  /** @type {any} */ (e).status = response.status;
  return e;
}

function authUrl(base, workspace, action) {
  return `${base}/v1/workspaces/${encodeURIComponent(workspace)}/auth/${action}`;
}

async function post(url, body) {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** @returns {Session} */
function fromTokens(workspace, t) {
  return { workspace, token: t.access_token, refresh: t.refresh_token, expiresAt: t.expires_at };
}

/** Signs in with a password. @returns {Promise<Session>} */
export async function passwordSignIn(base, workspace, email, password) {
  const r = await post(authUrl(base, workspace, "sign-in"), { email, password });
  if (!r.ok) throw await refusal(r, "Sign-in");
  return fromTokens(workspace, await r.json());
}

/** Trades the refresh token for a new pair. @param {Session} s @returns {Promise<Session>} */
export async function refreshSession(base, s) {
  const r = await post(authUrl(base, s.workspace, "refresh"), { refresh_token: s.refresh });
  if (!r.ok) throw await refusal(r, "Refreshing the session");
  return fromTokens(s.workspace, await r.json());
}

/** Revokes the session on the relay (best effort: the console signs out anyway). */
export async function revokeSession(base, s) {
  if (!s || !s.refresh) return;
  try {
    await post(authUrl(base, s.workspace, "sign-out"), { refresh_token: s.refresh });
  } catch {
    /* offline: the access token still expires within minutes */
  }
}

/** Milliseconds until `s` should be refreshed (0: now); null if it cannot be. */
export function refreshDelay(s, now = Date.now()) {
  if (!s || !s.refresh || typeof s.expiresAt !== "number") return null;
  return Math.max(0, s.expiresAt * 1000 - REFRESH_AHEAD_MS - now);
}

/** Runs `f` holding the tabs' refresh lock (where the browser has Web Locks). */
export async function withRefreshLock(f) {
  const locks = /** @type {any} */ (navigator).locks;
  if (locks && typeof locks.request === "function") return locks.request("edgedesk:console:refresh", f);
  return f();
}
