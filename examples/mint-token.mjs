#!/usr/bin/env node
// Mints an edgedesk access token the way an operator's backend would: a JWT signed with
// HS256, here with nothing but Node's standard library (any JWT library does the same job).
//
//   EDGEDESK_JWT_KEYS='kid:base64url-secret[,…]' node examples/mint-token.mjs \
//     --workspace acme --sub customer-42 --role visitor --conversation order-1234 \
//     [--name "Ada Lovelace"] [--ttl 3600]
//
// Prints the token on stdout. It signs with the first key of EDGEDESK_JWT_KEYS, the same
// value the Worker has as a secret (`wrangler secret put EDGEDESK_JWT_KEYS`), and puts that
// key's id in the header's `kid`.
//
// Claims (README, "Auth"; PROTOCOL.md §2.1):
//   workspace     the workspace id (required)
//   sub           the participant id the relay stamps on this user's writes (required)
//   role          visitor | agent | admin (required)
//   conversation  required for visitors: the one conversation they may use;
//                 optional for agents/admins, where it narrows the token to it
//   exp           expiry, seconds since the epoch (required); iat/nbf optional
//   name          display name, at most 128 bytes (optional)
// Ids are 1-64 characters of A-Z a-z 0-9 . _ - : @

import { createHmac } from "node:crypto";
import { parseArgs } from "node:util";

const USAGE = `usage: EDGEDESK_JWT_KEYS='kid:base64url-secret[,…]' node examples/mint-token.mjs \\
         --workspace WS --sub ID --role visitor|agent|admin [--conversation ID]
         [--name NAME] [--ttl SECONDS]

Prints an HS256 access token for the edgedesk relay, signed with the first key of
EDGEDESK_JWT_KEYS (the Worker's secret of the same name). Visitors need --conversation;
--name is the display name the relay requires on the user's messages (without it: the
documented default, PROTOCOL.md §2.1). --ttl defaults to 3600.
`;

function die(message) {
  process.stderr.write(`mint-token: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      workspace: { type: "string" },
      sub: { type: "string" },
      role: { type: "string" },
      conversation: { type: "string" },
      name: { type: "string" },
      ttl: { type: "string", default: "3600" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (e) {
  die(e.message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

for (const required of ["workspace", "sub", "role"]) {
  if (!values[required]) die(`--${required} is required`);
}
if (!["visitor", "agent", "admin"].includes(values.role)) {
  die("--role must be visitor, agent or admin");
}
if (values.role === "visitor" && !values.conversation) {
  die("a visitor token needs --conversation");
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) die("--ttl must be a positive number of seconds");

const first = (process.env.EDGEDESK_JWT_KEYS ?? "").split(",")[0].trim();
const colon = first.indexOf(":");
if (colon <= 0) die("set EDGEDESK_JWT_KEYS to kid:base64url-secret[,…]");
const kid = first.slice(0, colon).trim();
const secret = Buffer.from(first.slice(colon + 1).trim(), "base64url");
if (secret.length < 32) die("the signing secret must be at least 32 bytes");

const now = Math.floor(Date.now() / 1000);
const claims = {
  workspace: values.workspace,
  sub: values.sub,
  role: values.role,
  ...(values.conversation ? { conversation: values.conversation } : {}),
  ...(values.name ? { name: values.name } : {}),
  iat: now,
  exp: now + ttl,
};

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
const signingInput = `${b64url({ alg: "HS256", typ: "JWT", kid })}.${b64url(claims)}`;
const signature = createHmac("sha256", secret).update(signingInput).digest("base64url");
process.stdout.write(`${signingInput}.${signature}\n`);
