// Issue 16, day-one bugs: the off-hours auto-reply repeated during a live chat. Outside
// business hours the visitor hears it once, in the browser's language (the widget sends
// navigator.languages as the visitor's locale); once an agent answers, the chat is live and
// the bot stays quiet however many times they talk.
// The header says when the team is back ("We'll reply today from 21:00", in the visitor's
// time zone) instead of promising a reply in minutes.
// The workspace opens for one hour a day, 12 hours from now (tests/e2e/browser.rs,
// reopening_workspace).

import { nonce, scenario, step, tid, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const CLOSED_ZH = "现在是非工作时间";
// After the visitor's last message reached the console: long enough for an auto-reply,
// which the relay writes in the same step as accepting the message.
const HOLD_MS = 3_000;

scenario("off_hours_once", async ({ config, newContext }) => {
  const run = nonce();
  step("a visitor whose browser prefers Chinese writes off hours");
  const visitor = await (await newContext("visitor", { locale: "zh-CN", timezoneId: "Asia/Shanghai" })).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);

  step("the header names the next opening, in the visitor's time zone");
  const opensUtc = (new Date().getUTCHours() + 12) % 24;
  const opensShanghai = `${(opensUtc + 8) % 24}:00`;
  const header = visitor.locator(tid("edgedesk-availability"));
  await waitUntil(`the header saying the team is back at ${opensShanghai}`, async () => {
    const [kind, text] = [await header.getAttribute("data-availability"), await header.textContent()];
    if (kind === "closed" && /^We'll reply (today|tomorrow) from /.test(text) && text.endsWith(` ${opensShanghai}`)) return true;
    return null;
  });
  await ui.send(visitor, "edgedesk", `在吗？${run}`);
  await ui.waitForMessage(visitor, "edgedesk", CLOSED_ZH, "the off-hours reply, in Chinese", (m) => m.kind === "auto_reply");

  step("an agent answers, and they chat");
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  for (let i = 1; i <= 3; i++) {
    await ui.send(agent, "console", `我在，请讲 ${run}-${i}`);
    await ui.waitForMessage(visitor, "edgedesk", `${run}-${i}`, `the agent's reply ${i} in the widget`);
    const said = `谢谢 ${run}/${i}`;
    await ui.send(visitor, "edgedesk", said);
    await ui.waitForMessage(agent, "console", said, `the visitor's message ${i} in the console`);
  }

  step("the off-hours reply was said once");
  const autoReplies = async () =>
    (await ui.shownMessages(visitor, "edgedesk")).filter((m) => m.kind === "auto_reply");
  await agent.waitForTimeout(HOLD_MS);
  await waitUntil("the widget in sync with the relay", () => visitor.evaluate(() => window.EdgedeskWidget.synced));
  const said = await autoReplies();
  if (said.length !== 1) {
    throw new Error(`the visitor got ${said.length} auto-replies during a live chat: ${JSON.stringify(said.map((m) => m.text))}`);
  }
});
