// node --test examples/mint-token.test.mjs: the example backend explains itself instead of
// throwing, and mints a token whose payload carries what was asked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./mint-token.mjs", import.meta.url));
const run = (args, env = {}) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", env: { ...process.env, ...env } });

test("--help prints the usage and exits 0", () => {
  const r = run(["--help"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^usage: /);
  assert.equal(r.stderr, "");
});

test("an unknown option or a missing claim says so, with the usage, and exits 2", () => {
  for (const args of [["--bogus"], ["--workspace", "acme"]]) {
    const r = run(args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, /^mint-token: .+\n\nusage: /s);
    assert.doesNotMatch(r.stderr, /at .*\(node:/, "no stack trace");
  }
});

test("a minted token carries the asked claims and the key id", () => {
  const keys = `k1:${randomBytes(32).toString("base64url")}`;
  const r = run(["--workspace", "acme", "--sub", "a1", "--role", "agent", "--name", "李娜"], {
    EDGEDESK_JWT_KEYS: keys,
  });
  assert.equal(r.status, 0, r.stderr);
  const [header, payload] = r.stdout.trim().split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url")));
  assert.equal(header.kid, "k1");
  assert.deepEqual([payload.workspace, payload.sub, payload.role, payload.name], ["acme", "a1", "agent", "李娜"]);
});
