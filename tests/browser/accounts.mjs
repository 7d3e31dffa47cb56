// Issue 16, accounts: an admin (created through the API with the operator's token) signs in
// to the console with a password and adds an agent on the Agents page (with a team, skills
// and her own limit of open conversations); the agent signs in
// with her password, five wrong passwords lock an account, a reload keeps the session by
// refreshing the access token with the refresh token, sign-out revokes the refresh token,
// and disabling the agent takes her console back to the sign-in form within one second.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const SESSION_KEY = "edgedesk:console:session";

const { api, passwordSignIn } = ui;

const stored = (page) => page.evaluate((k) => JSON.parse(localStorage.getItem(k) || "null"), SESSION_KEY);

scenario("accounts", async ({ config, newContext }) => {
  const run = nonce();
  const adminPassword = `admin password ${run}`;
  const agentPassword = `客服 password ${run}`;

  step("the operator creates the first admin through the API");
  const created = await api(config, "PUT", "/agents/admin-lin", {
    email: `lin-${run}@shop.example`, name: "Lin 林", role: "admin", password: adminPassword,
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));

  step("the workspace has two teams (routing configuration)");
  const configured = await api(config, "PUT", "/config", {
    routing: { teams: [{ id: "billing", name: "账务 Billing" }, { id: "general", name: "General" }], default_team: "general" },
  });
  assert.equal(configured.status, 200, JSON.stringify(configured.json));

  step("the admin signs in with a password and adds an agent on the Agents page");
  const admin = await (await newContext("admin")).newPage();
  await passwordSignIn(admin, config, `LIN-${run}@shop.example`, adminPassword);
  await waitFor(admin.locator(tid("console-list")), "the admin's console");
  await admin.locator(tid("console-agents-open")).click();
  await waitFor(admin.locator(tid("agents-row", `[data-id="admin-lin"]`)), "the admin in the agents list");
  await admin.locator(tid("agents-id")).fill("agent-mei");
  await admin.locator(tid("agents-name")).fill("Mei 美");
  await admin.locator(tid("agents-email")).fill(`mei-${run}@shop.example`);
  await admin.locator(tid("agents-password")).fill(agentPassword);
  await admin.locator(tid("agents-team", `[value="billing"]`)).check();
  await admin.locator(tid("agents-skills")).fill("退款，English");
  await admin.locator(tid("agents-max-open")).fill("3");
  await admin.locator(tid("agents-save")).click();
  await waitFor(admin.locator(tid("agents-row", `[data-id="agent-mei"]`)), "Mei in the agents list");
  assert.match((await admin.locator(tid("agents-row", `[data-id="agent-mei"]`)).textContent()) ?? "", /Mei 美.*agent.*账务 Billing.*Active/);

  step("her teams, skills and own limit are stored in routing, and shown again on Edit");
  const listed = await api(config, "GET", "/agents");
  const account = listed.json.agents.find((a) => a.id === "agent-mei");
  assert.deepEqual([account.teams, account.skills, account.max_open], [["billing"], ["退款", "English"], 3]);
  const routing = (await api(config, "GET", "/config")).json.config.routing;
  assert.deepEqual(routing.teams.find((t) => t.id === "billing").members, ["agent-mei"]);
  await admin.locator(tid("agents-row", `[data-id="agent-mei"]`)).locator(tid("agents-edit")).click();
  assert.equal(await admin.locator(tid("agents-team", `[value="billing"]`)).isChecked(), true);
  assert.equal(await admin.locator(tid("agents-team", `[value="general"]`)).isChecked(), false);
  assert.equal(await admin.locator(tid("agents-skills")).inputValue(), "退款, English");
  assert.equal(await admin.locator(tid("agents-max-open")).inputValue(), "3");
  await ui.shoot(admin, config, "agents-page-1280x800.png");
  await admin.locator(tid("agents-new")).click();

  step("five wrong passwords lock an account, even against the right one");
  const guesser = await (await newContext("guesser")).newPage();
  for (let i = 0; i < 5; i++) {
    const r = await api(config, "POST", "/auth/sign-in", { email: `lin-${run}@shop.example`, password: `guess ${i} wrong` }, null);
    assert.equal(r.status, i < 4 ? 401 : 429, JSON.stringify(r.json));
  }
  await passwordSignIn(guesser, config, `lin-${run}@shop.example`, adminPassword);
  const error = guesser.locator(tid("console-signin-error"));
  await waitUntil("the lock explained on the sign-in form", async () => /locked/.test((await error.textContent()) ?? ""));

  step("the agent signs in with her password");
  const mei = await (await newContext("mei")).newPage();
  await passwordSignIn(mei, config, `mei-${run}@shop.example`, agentPassword);
  await waitFor(mei.locator(tid("console-list")), "Mei's console");
  const first = await stored(mei);
  assert.ok(first && first.refresh && first.expiresAt, "a refresh token is kept");

  step("a reload after the access token ran out refreshes it with the refresh token");
  await mei.evaluate(([k, s]) => localStorage.setItem(k, JSON.stringify({ ...s, token: "expired.token.x", expiresAt: 1 })), [SESSION_KEY, first]);
  await mei.reload();
  await waitFor(mei.locator(tid("console-list")), "Mei's console after the reload");
  const second = await stored(mei);
  // (The access token itself can equal the first when both were minted in the same second.)
  assert.notEqual(second.token, "expired.token.x", "the expired access token was replaced");
  assert.ok(second.expiresAt >= first.expiresAt, "a fresh access token");
  assert.notEqual(second.refresh, first.refresh, "the refresh token rotated");
  assert.equal(await mei.locator(tid("console-signin")).isVisible(), false);

  step("sign-out revokes the refresh token");
  await mei.locator(tid("console-signout")).click();
  await waitFor(mei.locator(tid("console-signin")), "the sign-in form after signing out");
  await waitUntil("the refresh token refused after sign-out", async () =>
    (await api(config, "POST", "/auth/refresh", { refresh_token: second.refresh }, null)).status === 401,
  );

  step("disabling Mei signs her console out within a second");
  await passwordSignIn(mei, config, `mei-${run}@shop.example`, agentPassword);
  await waitFor(mei.locator(tid("console-list")), "Mei's console, signed in again");
  await waitUntil("Mei's console connected", async () => (await mei.locator(tid("console-connection")).getAttribute("data-state")) === "connected");
  const asked = Date.now();
  const disabled = await api(config, "PUT", "/agents/agent-mei", {
    email: `mei-${run}@shop.example`, name: "Mei 美", role: "agent", disabled: true,
  });
  assert.equal(disabled.status, 200, JSON.stringify(disabled.json));
  await waitFor(mei.locator(tid("console-signin")), "the sign-in form after Mei was disabled", "visible", 1_000);
  const took = Date.now() - asked;
  assert.ok(took < 1_000, `signed out after ${took} ms`);
  assert.match((await mei.locator(tid("console-signin-error")).textContent()) ?? "", /disabled/);
  console.log(`disabled agent's console signed out ${took} ms after the admin's request`);
});
