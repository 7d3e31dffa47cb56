// Issue 6, acceptance 1: a visitor in the widget (embedded in a shop's page of another origin)
// and an agent in the console chat live; each sees the other's messages, the delivered and
// read ticks of their own, and the other's typing indicator.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

// An https page, as real shops are. Playwright answers its requests, so it has no address;
// Chromium then counts it as public and asks the user before it may reach a loopback relay
// (Local Network Access). A deployed relay is public too, so the test grants that permission
// as a visitor's click would, instead of turning the check off.
const SHOP = "https://shop.example";

scenario("live_chat", async ({ config, newContext }) => {
  const run = nonce();
  const visitorContext = await newContext("visitor");
  await visitorContext.grantPermissions(["local-network-access"], { origin: SHOP });
  await ui.routeShop(visitorContext, config, SHOP);
  const visitor = await visitorContext.newPage();

  step(`visitor opens the widget on ${SHOP}/ (script from ${config.relayUrl})`);
  const conversation = await ui.openWidget(visitor, `${SHOP}/`, config);
  step(`conversation ${conversation}`);
  const accent = await ui.accentOf(visitor);
  assert.equal(accent.injected, false, "markup in data-color reached the widget's shadow root");
  assert.equal(accent.accent, "#4f46e5", "a data-color that is no colour falls back to the default");

  const hello = `Hello, where is my order? ${run}`;
  await ui.send(visitor, "edgedesk", hello);
  const delivered = await ui.waitForMessage(visitor, "edgedesk", hello,
    "the visitor's message, delivered (nobody has read it yet)", (m) => m.state === "delivered");
  assert.equal(delivered.own, "true", "the visitor's own message is marked own");
  assert.equal(delivered.ticks, "✓", "a delivered message shows one tick");

  step("agent signs in to the console and opens the conversation");
  const agentContext = await newContext("agent");
  const agent = await agentContext.newPage();
  await ui.signInWithForm(agent, config);
  await ui.openInConsole(agent, conversation);
  const received = await ui.waitForMessage(agent, "console", hello, "the visitor's message in the console");
  assert.equal(received.own, "false", "the console does not show the visitor's message as the agent's");
  assert.equal(received.kind, "text");

  step("the agent has read it: the visitor's message shows two ticks");
  const read = await ui.waitForMessage(visitor, "edgedesk", hello,
    "the visitor's message, read by the agent", (m) => m.state === "read");
  assert.equal(read.ticks, "✓✓", "a read message shows two ticks");

  step("agent types: the widget shows the typing indicator");
  const typing = visitor.locator(tid("edgedesk-typing"));
  assert.equal(await typing.isVisible(), false, "the typing indicator shows before anyone types");
  await agent.locator(tid("console-input")).pressSequentially("Let me check", { delay: 30 });
  await waitFor(typing, "the widget's typing indicator while the agent types");

  step("visitor closes the panel; the agent sends: delivered, not read");
  await visitor.evaluate(() => window.EdgedeskWidget.close());
  await waitFor(visitor.locator(tid("edgedesk-panel")), "the widget's panel closed", "hidden");
  const reply = `It left the warehouse today ${run}`;
  await agent.locator(tid("console-input")).fill(reply);
  await agent.locator(tid("console-send")).click();
  const sent = await ui.waitForMessage(agent, "console", reply,
    "the agent's reply, delivered (the visitor's panel is closed)", (m) => m.state === "delivered");
  assert.equal(sent.own, "true");
  assert.equal(sent.ticks, "✓");

  step("visitor opens the panel: sees the reply, the agent sees it read");
  await visitor.locator(tid("edgedesk-launcher")).click();
  await waitFor(visitor.locator(tid("edgedesk-panel")), "the widget's panel reopened");
  const got = await ui.waitForMessage(visitor, "edgedesk", reply, "the agent's reply in the widget");
  assert.equal(got.own, "false");
  assert.equal(got.ticks, null, "ticks are shown on own messages only");
  await waitFor(typing, "the typing indicator gone after the agent sent", "hidden");
  const seen = await ui.waitForMessage(agent, "console", reply,
    "the agent's reply, read by the visitor", (m) => m.state === "read");
  assert.equal(seen.ticks, "✓✓");

  step("visitor types: the console shows the typing indicator");
  const agentSeesTyping = agent.locator(tid("console-typing"));
  assert.equal(await agentSeesTyping.isVisible(), false, "the console shows typing before anyone types");
  await visitor.locator(tid("edgedesk-input")).pressSequentially("Great, thank", { delay: 30 });
  await waitFor(agentSeesTyping, "the console's typing indicator while the visitor types");
  const thanks = `Great, thanks! ${run}`;
  await visitor.locator(tid("edgedesk-input")).fill(thanks);
  await visitor.locator(tid("edgedesk-send")).click();
  await ui.waitForMessage(agent, "console", thanks, "the visitor's second message in the console");
  await waitFor(agentSeesTyping, "the console's typing indicator gone after the visitor sent", "hidden");
  await ui.waitForMessage(visitor, "edgedesk", thanks, "the visitor's second message, read",
    (m) => m.state === "read" && m.ticks === "✓✓");

  step("both sides show the same three messages once each, in one order");
  const inWidget = await ui.shownMessages(visitor, "edgedesk");
  const inConsole = await ui.shownMessages(agent, "console");
  const order = (list) => list.filter((m) => m.kind === "text").map((m) => m.id);
  assert.equal(order(inWidget).length, 3, `widget: ${JSON.stringify(inWidget)}`);
  assert.deepEqual(order(inConsole), order(inWidget), "the console's order is the widget's");
  assert.equal(new Set(order(inWidget)).size, 3, "each message id once");
});
