// Gives the local demo workspace an admin and an agent who sign in to the console with a
// password (PROTOCOL.md §2.9), once: an account that exists is never replaced. Passwords are
// random, kept next to the local state (.wrangler/state/demo-accounts.json, deleted with it)
// and printed, so `scripts/dev.sh` can show how to sign in.
//
//   node scripts/demo-accounts.mjs <base url> <admin token> <file>

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [base, token, file] = process.argv.slice(2);
if (!base || !token || !file) {
  console.error("usage: node scripts/demo-accounts.mjs <base url> <admin token> <file>");
  process.exit(2);
}
const WANTED = [
  { id: "admin-demo", email: "admin@demo.example", name: "Demo Admin", role: "admin" },
  { id: "agent-1", email: "agent@demo.example", name: "Agent One", role: "agent" },
];
const url = (id) => `${base}/v1/workspaces/demo/agents${id ? `/${id}` : ""}`;
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };

const known = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
const listed = await fetch(url(), { headers });
if (!listed.ok) throw new Error(`listing the demo's agents: HTTP ${listed.status}`);
const have = new Set(((await listed.json()).agents || []).map((a) => a.id));
for (const a of WANTED) {
  if (have.has(a.id)) continue;
  const password = randomBytes(9).toString("base64url");
  const { id, ...account } = a;
  const r = await fetch(url(id), { method: "PUT", headers, body: JSON.stringify({ ...account, password }) });
  if (!r.ok) throw new Error(`creating ${a.id}: HTTP ${r.status} ${await r.text()}`);
  known[a.email] = password;
}
writeFileSync(file, JSON.stringify(known, null, 2) + "\n", { mode: 0o600 });
for (const a of WANTED) {
  const password = known[a.email] ?? "(set before; not known to this script)";
  console.log(`[dev] console sign-in (${a.role}): workspace demo, ${a.email}, password ${password}`);
}
