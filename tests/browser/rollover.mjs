// Issue 17: a conversation rolls over (the relay runs with EDGEDESK_ROLLOVER_MESSAGES=10)
// while the visitor's browser is offline. The console moves to the new epoch and keeps
// showing the sealed messages (history pages); the widget, back online, moves too and
// delivers its offline messages exactly once. Chinese text throughout.

import assert from "node:assert/strict";
import { nonce, relayStats, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const delivered = (m) => m.state === "delivered" || m.state === "read";

scenario("rollover", async ({ config, newContext }) => {
  const run = nonce();
  const demo = ui.demoUrl(config);
  const visitorContext = await newContext("visitor");
  const widget = await visitorContext.newPage();

  step(`visitor opens the widget on ${demo} and writes three messages`);
  const conversation = await ui.openWidget(widget, demo, config);
  const early = [0, 1, 2].map((i) => `早期消息 ${i} ${run}`);
  for (const body of early) {
    await ui.send(widget, "edgedesk", body);
    await ui.waitForMessage(widget, "edgedesk", body, "an early message, delivered", delivered);
  }

  step(`agent opens ${conversation} in the console`);
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", early[2], "the visitor's message in the console");

  step("the visitor's browser goes offline; two messages wait in the widget");
  await visitorContext.setOffline(true);
  await waitFor(widget.locator(tid("edgedesk-offline-banner")), "the widget's offline banner");
  const offline = [`离线消息一 ${run}`, `离线消息二 ${run}`];
  for (const body of offline) {
    await ui.send(widget, "edgedesk", body);
    await ui.waitForMessage(widget, "edgedesk", body, "an offline message, pending", (m) => m.state === "pending");
  }

  step("the agent answers until the conversation rolls over");
  const replies = [];
  for (let i = 0; i < 15; i++) {
    const body = `客服回复 ${i} ${run}`;
    replies.push(body);
    await ui.send(agent, "console", body);
    await ui.waitForMessage(agent, "console", body, "the agent's reply, delivered", delivered);
    if ((await relayStats(config, conversation)).epoch >= 1) break;
  }
  const sealed = await relayStats(config, conversation);
  assert.ok(sealed.epoch >= 1, `the conversation rolled over: ${JSON.stringify(sealed)}`);
  for (const body of [...early, ...replies]) {
    await ui.waitForMessage(agent, "console", body, "a message still shown after the rollover", delivered);
  }

  step("the visitor comes back online: the widget moves and delivers its offline messages once");
  await visitorContext.setOffline(false);
  for (const body of offline) {
    await ui.waitForMessage(widget, "edgedesk", body, "an offline message, delivered after the move", delivered);
    await ui.waitForMessage(agent, "console", body, "the offline message in the console");
  }

  step("every message once, in the widget, in the console and at the relay");
  const all = [...early, ...offline, ...replies];
  for (const [who, page, prefix] of [["widget", widget, "edgedesk"], ["console", agent, "console"]]) {
    const shown = await ui.shownMessages(page, prefix);
    for (const body of all) {
      const n = shown.filter((m) => m.text.includes(body)).length;
      assert.equal(n, 1, `${who} shows "${body}" ${n} times`);
    }
    const ids = shown.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, `${who} shows a message twice`);
  }
  const stats = await waitUntil("the relay to hold every message", async () => {
    const s = await relayStats(config, conversation);
    return s.archived_messages + s.messages >= all.length ? s : null;
  });
  const texts = (await ui.shownMessages(agent, "console")).length;
  assert.equal(stats.archived_messages + stats.messages, texts,
    `the relay holds what the console shows: ${JSON.stringify(stats)}`);

  step("a reload of the console shows the sealed messages again, from history");
  await agent.reload();
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", early[0], "the first message, from history after a reload", delivered);

  await widget.setViewportSize({ width: 390, height: 844 });
  await ui.shoot(widget, config, "rollover-widget-phone.png");
  await ui.shoot(agent, config, "rollover-console.png");
});
