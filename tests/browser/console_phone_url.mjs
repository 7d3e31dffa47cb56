// Issue 16, day-one bugs: the console on a phone, and a reload that lost the open
// conversation. On a 390x844 touch screen the console shows one pane at a time (list, then
// the conversation with a back button, the case details in a drawer) and nothing overflows
// sideways; the address bar holds the view (conversation, filters), so reload, back and
// forward restore it; the session survives reloads and new tabs, and signing out in one tab
// signs out the others.

import assert from "node:assert/strict";
import { join } from "node:path";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

async function noSidewaysScroll(page, where) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `${where}: the page is ${width}px wide on a 390px screen`);
}

scenario("console_phone_url", async ({ config, newContext }) => {
  const run = nonce();
  step("a visitor writes");
  const visitor = await (await newContext("visitor")).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `我的快递到哪里了？${run}`;
  await ui.send(visitor, "edgedesk", question);

  step("an agent signs in on a phone: the list fills the screen");
  const context = await newContext("agent-phone", PHONE);
  const phone = await context.newPage();
  await ui.signInWithLink(phone, config);
  const row = phone.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitFor(row, "the conversation in the list");
  assert.equal(await phone.locator(tid("console-messages")).isVisible(), false, "no conversation pane beside the list");
  await noSidewaysScroll(phone, "the list");
  await phone.screenshot({ path: join(config.outDir, "console-phone-list.png") });

  step("a tap opens the conversation full screen, and the address bar names it");
  await row.tap();
  await ui.waitForMessage(phone, "console", question, "the visitor's question on the phone");
  assert.equal(await phone.locator(tid("console-list")).isVisible(), false, "the list gives way to the conversation");
  assert.equal(new URL(phone.url()).searchParams.get("c"), conversation);
  await noSidewaysScroll(phone, "the conversation");
  await phone.screenshot({ path: join(config.outDir, "console-phone-conversation.png") });

  step("the case details open as a drawer and close again");
  await phone.locator(tid("console-details-toggle")).tap();
  await waitFor(phone.locator(tid("console-status")), "the status control in the details drawer");
  await phone.screenshot({ path: join(config.outDir, "console-phone-details.png") });
  await phone.locator(tid("console-details-close")).tap();
  await waitFor(phone.locator(tid("console-status")), "the drawer closed", "hidden");

  step("a reload keeps the session and the open conversation");
  await phone.reload();
  await ui.waitForMessage(phone, "console", question, "the conversation after a reload");
  assert.equal(await phone.locator(tid("console-signin")).isVisible(), false, "no sign-in form after a reload");

  step("back shows the list, forward the conversation again");
  await phone.locator(tid("console-back")).tap();
  await waitFor(phone.locator(tid("console-list")), "the list after the back button");
  assert.equal(new URL(phone.url()).searchParams.get("c"), null);
  await phone.goBack();
  await ui.waitForMessage(phone, "console", question, "the conversation after the browser's back");
  await phone.goForward();
  await waitFor(phone.locator(tid("console-list")), "the list after the browser's forward");

  step("filters are in the address bar too");
  await phone.locator(tid("console-filter-unread")).check();
  await waitUntil("unread=1 in the address bar", () => new URL(phone.url()).searchParams.get("unread") === "1");
  await phone.reload();
  await waitFor(phone.locator(tid("console-list")), "the list after a reload");
  assert.equal(await phone.locator(tid("console-filter-unread")).isChecked(), true, "the Unread filter after a reload");

  step("a new tab is signed in; signing out there signs this tab out");
  const tab = await context.newPage();
  await tab.goto(`${config.relayUrl}/console/?c=${conversation}`);
  await ui.waitForMessage(tab, "console", question, "the conversation in a new tab, from its link");
  await tab.locator("#signout").click();
  await waitFor(tab.locator(tid("console-signin")), "the sign-in form in the tab that signed out");
  await waitFor(phone.locator(tid("console-signin")), "the sign-in form in the other tab");
});
