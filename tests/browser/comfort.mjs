// Issue 16, working comfort in the console: keyboard shortcuts (next/previous conversation,
// focus the reply, resolve, search, the help list; letters typed in the reply stay text), the
// emoji picker, and new-work signals: with sound and desktop notifications switched on, a
// visitor writing in a conversation the agent is not looking at plays the chime and, while
// the console's tab is in the background, raises a desktop notification.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

// Counts what the page asks of the browser's notification and audio APIs (then does it).
const WATCH = () => {
  window.__notified = [];
  window.__chimes = 0;
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notified.push(title);
    }
  };
  const osc = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__chimes += 1;
    return osc.call(this);
  };
};

scenario("comfort", async ({ config, newContext }) => {
  const run = nonce();
  step("two visitors write");
  const convs = [];
  for (const who of ["first", "second"]) {
    const page = await (await newContext(`visitor-${who}`)).newPage();
    const conversation = await ui.openWidget(page, ui.demoUrl(config), config);
    await ui.send(page, "edgedesk", `${who} visitor here ${run}`);
    convs.push({ page, conversation });
  }

  step("the agent switches sound and desktop notifications on");
  const context = await newContext("agent", { permissions: ["notifications"] });
  await context.addInitScript(WATCH);
  const agent = await context.newPage();
  await ui.signInWithLink(agent, config);
  await agent.locator(tid("console-prefs")).click();
  await agent.locator(tid("console-pref-sound")).check();
  await agent.locator(tid("console-pref-desktop")).check();
  await waitUntil("desktop notifications on", () => agent.locator(tid("console-pref-desktop")).isChecked());
  await agent.locator(tid("console-prefs")).click();

  step("j and k move through the list; r focuses the reply; letters typed there stay text");
  await ui.openInConsole(agent, convs[0].conversation);
  const selected = () => agent.evaluate(() => new URLSearchParams(location.search).get("c"));
  await agent.locator("body").click({ position: { x: 5, y: 400 } });
  const order = await agent.locator(`${tid("console-list")} [data-id]`).evaluateAll((r) => r.map((x) => x.dataset.id));
  assert.equal(order.length, 2, `two conversations listed: ${order}`);
  const at = order.indexOf(await selected());
  await agent.keyboard.press(at === 0 ? "j" : "k");
  await waitUntil("the other conversation opened by the keyboard", async () => (await selected()) === order[1 - at]);
  await agent.keyboard.press("Alt+ArrowUp");
  await agent.keyboard.press("Alt+ArrowDown");
  await agent.keyboard.press(at === 0 ? "k" : "j");
  await waitUntil("back to the first", async () => (await selected()) === order[at]);
  await agent.keyboard.press("r");
  await waitUntil("the reply box focused", () => agent.evaluate(() => document.activeElement?.id === "input"));
  await agent.keyboard.type("jk ");
  assert.equal(await agent.locator(tid("console-input")).inputValue(), "jk ", "letters in the reply are text");
  assert.equal(await selected(), order[at], "typing did not move");

  step("the emoji picker puts an emoji at the cursor");
  await agent.locator(tid("console-emoji-open")).click();
  await agent.locator(tid("console-emoji")).first().click();
  assert.equal(await agent.locator(tid("console-input")).inputValue(), "jk 😀");
  await agent.keyboard.press("Escape");

  step("? lists the shortcuts; e resolves the open conversation");
  await agent.keyboard.press("?");
  await waitFor(agent.locator(tid("console-shortcuts")), "the shortcuts list");
  await agent.keyboard.press("Escape");
  await agent.keyboard.press("e");
  await waitUntil("resolved by the keyboard", async () => (await agent.locator(tid("console-status")).inputValue()) === "resolved");

  step("a visitor writes elsewhere: a chime; in the background, a desktop notification too");
  const other = convs.find((c) => c.conversation !== order[at]);
  const chimes = await agent.evaluate(() => window.__chimes);
  await ui.send(other.page, "edgedesk", `anyone there? ${run}`);
  await waitUntil("the chime", async () => (await agent.evaluate(() => window.__chimes)) > chimes);
  // Headless Chromium keeps a page focused whatever is in front; the console asks
  // document.hasFocus(), so the test says "not focused" the way a background tab would.
  await agent.evaluate(() => {
    document.hasFocus = () => false;
  });
  await ui.send(other.page, "edgedesk", `hello?? ${run}`);
  await waitUntil("a desktop notification naming the visitor", async () =>
    (await agent.evaluate(() => window.__notified)).some((t) => t.startsWith("Visitor")),
  );
});
