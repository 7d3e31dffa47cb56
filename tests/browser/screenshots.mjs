// Issue 6, acceptance 5: screenshots of the widget (open, with a conversation) and of the
// console (that conversation open, with a tag and a note) for the README. Written to
// EDGEDESK_OUTPUT_DIR; also copied to EDGEDESK_DOCS_IMG when set (to refresh docs/img/).

import assert from "node:assert/strict";
import { scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

const VIEWPORT = { width: 1280, height: 800 };

// Asserts `locator` is laid out entirely inside the viewport, so the screenshot shows it.
async function assertOnScreen(locator, what) {
  const box = await locator.first().boundingBox();
  assert.ok(box && box.width > 0 && box.height > 0, `${what} has no size`);
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= VIEWPORT.width + 1 &&
    box.y + box.height <= VIEWPORT.height + 1, `${what} is not inside the viewport: ${JSON.stringify(box)}`);
}

const { shoot } = ui;

scenario("screenshots", async ({ config, newContext }) => {
  const visitor = await (await newContext("visitor", { viewport: VIEWPORT })).newPage();
  const agent = await (await newContext("agent", { viewport: VIEWPORT })).newPage();

  step("a short conversation between the widget and the console");
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const lines = [
    ["visitor", "Hi! My order #1042 hasn't arrived yet."],
    ["agent", "Sorry about that! It left our warehouse yesterday and arrives tomorrow."],
    ["visitor", "Perfect, thank you!"],
  ];
  await ui.send(visitor, "edgedesk", lines[0][1]);
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", lines[0][1], "the first message in the console");
  await agent.locator(tid("console-claim")).click();
  await waitFor(agent.locator(tid("console-assignee"), { hasText: "Grace" }), "the agent as the assignee");
  await agent.locator(tid("console-tag-input")).fill("shipping");
  await agent.locator(tid("console-tag-add")).click();
  await waitFor(agent.locator(tid("console-tag"), { hasText: "shipping" }), "the tag in the console");
  await agent.locator(tid("console-note-input")).fill("Carrier confirmed delivery for tomorrow.");
  await agent.locator(tid("console-note-send")).click();
  await waitFor(agent.locator(tid("console-note")), "the note in the console");
  for (const [who, body] of lines.slice(1)) {
    const [page, prefix] = who === "agent" ? [agent, "console"] : [visitor, "edgedesk"];
    await ui.send(page, prefix, body);
  }

  step("waiting until both sides show every message read");
  for (const [who, body] of lines) {
    const [own, other] = who === "agent" ? [agent, visitor] : [visitor, agent];
    const ownPrefix = who === "agent" ? "console" : "edgedesk";
    const otherPrefix = who === "agent" ? "edgedesk" : "console";
    await ui.waitForMessage(own, ownPrefix, body, "a message read by the other side",
      (m) => m.state === "read");
    await ui.waitForMessage(other, otherPrefix, body, "a message shown on the other side");
  }
  await waitFor(visitor.locator(tid("edgedesk-typing")), "no typing indicator in the widget", "hidden");
  await waitFor(agent.locator(tid("console-typing")), "no typing indicator in the console", "hidden");

  await assertOnScreen(visitor.locator(tid("edgedesk-panel")), "the widget's panel");
  await assertOnScreen(agent.locator(tid("console-messages")), "the console's messages");
  await assertOnScreen(agent.locator(tid("console-list")), "the console's list");
  await visitor.locator(tid("edgedesk-input")).blur();
  await shoot(visitor, config, "widget.png");
  await shoot(agent, config, "console.png");
});
