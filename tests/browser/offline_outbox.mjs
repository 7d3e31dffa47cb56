// Issue 6, acceptance 2: a visitor whose browser is offline writes three messages and closes
// the page; a new page of the same browser profile, back online, delivers each of them
// exactly once, and the agent sees them.

import assert from "node:assert/strict";
import { nonce, relayStats, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

scenario("offline_outbox", async ({ config, newContext }) => {
  const run = nonce();
  const demo = ui.demoUrl(config);
  const visitorContext = await newContext("visitor");
  const first = await visitorContext.newPage();

  step(`visitor opens the widget on ${demo}`);
  const conversation = await ui.openWidget(first, demo, config);
  const hello = `Hi, I need to change my address ${run}`;
  await ui.send(first, "edgedesk", hello);
  await ui.waitForMessage(first, "edgedesk", hello, "the first message, delivered while online",
    (m) => m.state === "delivered" || m.state === "read");

  step(`agent opens conversation ${conversation} in the console`);
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", hello, "the visitor's first message in the console");

  step("the visitor's browser goes offline and the visitor writes three messages");
  await visitorContext.setOffline(true);
  await waitFor(first.locator(tid("edgedesk-offline-banner")), "the widget's offline banner");
  const offline = [
    `Offline one: new street is Elm Road 5 ${run}`,
    `Offline two: postcode 10115 ${run}`,
    `Offline three: please ship there ${run}`,
  ];
  for (const body of offline) {
    await ui.send(first, "edgedesk", body);
    const pending = await ui.waitForMessage(first, "edgedesk", body, "an offline message, pending",
      (m) => m.state === "pending");
    assert.equal(pending.ticks, "🕓", "a pending message shows the clock");
  }
  assert.equal((await relayStats(config, conversation)).messages, 1,
    "the relay holds only the online message while the visitor is offline");
  for (const body of offline) {
    assert.equal((await ui.shownWith(agent, "console", body)).length, 0,
      `the console shows "${body}" although the visitor is offline`);
  }

  step("the visitor closes the page; a new page of the same profile comes back online");
  await first.close();
  await visitorContext.setOffline(false);
  const second = await visitorContext.newPage();
  const again = await ui.openWidget(second, demo, config);
  assert.equal(again, conversation, "the new page continues the same conversation");

  for (const body of offline) {
    const shown = await ui.waitForMessage(second, "edgedesk", body,
      "an offline message on the new page with a delivered tick",
      (m) => m.state === "delivered" || m.state === "read");
    assert.equal(shown.own, "true");
    assert.match(shown.ticks, /^✓/, "a delivered (or read) message shows a tick");
  }
  for (const body of offline) {
    const seen = await ui.waitForMessage(agent, "console", body, "an offline message in the console");
    assert.equal(seen.own, "false");
  }

  step("each message exactly once: in the console, on the new page and at the relay");
  const stats = await waitUntil("the relay's stats to count 4 messages", async () => {
    const s = await relayStats(config, conversation);
    return s.messages >= 4 ? s : null;
  });
  assert.equal(stats.messages, 4, `relay stats: ${JSON.stringify(stats)}`);
  for (const [who, page, prefix] of [["console", agent, "console"], ["widget", second, "edgedesk"]]) {
    const shown = (await ui.shownMessages(page, prefix)).filter((m) => m.kind === "text");
    const bodies = [hello, ...offline];
    for (const body of bodies) {
      const n = shown.filter((m) => m.text.includes(body)).length;
      assert.equal(n, 1, `${who} shows "${body}" ${n} times`);
    }
    assert.equal(shown.length, 4, `${who} shows ${shown.length} messages: ${JSON.stringify(shown)}`);
    assert.equal(new Set(shown.map((m) => m.id)).size, 4, `${who}: message ids repeat`);
    const order = shown.map((m) => bodies.find((b) => m.text.includes(b)));
    assert.deepEqual(order, bodies, `${who} shows the messages in the order written`);
  }
});
