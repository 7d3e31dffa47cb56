// Issue 16, day-one bugs: "unread hides new work". The relay answers the visitor's message
// with an auto-reply; the visitor's open widget marks that reply read. No agent has read
// anything, so the conversation must stay unread (and in the Unread filter), and its
// preview must be the visitor's question, not the bot's answer.
// The workspace is always outside business hours (tests/e2e/browser.rs, closed_workspace).

import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

// How long the console must keep showing the conversation as unread after the visitor's
// read mark is on the relay: a summary push takes well under a second here.
const HOLD_MS = 3_000;

scenario("auto_reply_unread", async ({ config, newContext }) => {
  const run = nonce();
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);
  await agent.locator(tid("console-filter-unread")).check();

  step("visitor writes; the relay answers off hours");
  const visitor = await (await newContext("visitor")).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `Where is my parcel? ${run}`;
  await ui.send(visitor, "edgedesk", question);
  await ui.waitForMessage(visitor, "edgedesk", "We are closed now", "the relay's off-hours reply", (m) => m.kind === "auto_reply");

  step("the open widget marks the auto-reply read, and the relay holds the mark");
  await waitUntil("the widget in sync with the relay (its read mark acknowledged)", () =>
    visitor.evaluate(() => window.EdgedeskWidget.synced),
  );

  step("the console lists the conversation as unread, previewing the visitor's question");
  const row = agent.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitFor(row, "the conversation in the Unread list");
  const look = async () => ({
    listed: await row.count(),
    unread: (await row.locator(tid("console-unread")).textContent({ timeout: 1_000 }).catch(() => null))?.trim(),
    preview: await row.locator(tid("console-preview")).textContent({ timeout: 1_000 }).catch(() => null),
    by: await row.locator(tid("console-preview")).getAttribute("data-by", { timeout: 1_000 }).catch(() => null),
  });
  const held = Date.now() + HOLD_MS;
  while (Date.now() < held) {
    const seen = await look();
    if (seen.listed !== 1 || seen.unread !== "1" || !seen.preview?.includes(question) || seen.by !== "visitor") {
      throw new Error(`the console shows the conversation as ${JSON.stringify(seen)}; want it listed under Unread with 1 unread and the visitor's question as preview`);
    }
    await agent.waitForTimeout(200);
  }

  step("the tab's title counts the unread conversation");
  await waitUntil("'(1)' in the console's title", async () => (await agent.title()).startsWith("(1) "));

  step("the agent opens it: now it is read, and leaves the Unread filter");
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", question, "the visitor's question in the console");
  await waitUntil("the conversation gone from the Unread list", async () => (await row.count()) === 0);
  await waitUntil("no count in the title", async () => (await agent.title()) === "edgedesk · Agent console");
});
