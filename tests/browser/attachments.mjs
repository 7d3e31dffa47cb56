// Issue 16, attachments in the browser: a visitor on a phone sends an image from the widget
// and the agent sees it in the console; the agent sends one back and the visitor sees it
// (both previewed: the image loads through its signed link); a file picked while offline
// waits in the outbox across a closed page and is sent exactly once when a new page comes
// online; a type the workspace does not take is refused with a message.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const { attach, loadedImages, png } = ui;

scenario("attachments", async ({ config, newContext }) => {
  const run = nonce();
  const demo = ui.demoUrl(config);
  const phone = await newContext("visitor-phone", PHONE);
  const visitor = await phone.newPage();

  step("the visitor, on a phone, sends a text and a photo from the widget");
  const conversation = await ui.openWidget(visitor, demo, config);
  await ui.send(visitor, "edgedesk", `My parcel arrived broken ${run}`);
  await attach(visitor, "edgedesk", "破损照片.png", png(48, [220, 60, 60]));
  await loadedImages(visitor, "edgedesk", 1, "the visitor's photo shown in the widget once uploaded");

  step("the agent sees the photo in the console and sends one back");
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await loadedImages(agent, "console", 1, "the visitor's photo in the console");
  await attach(agent, "console", "return-label.png", png(32, [40, 120, 220]));
  await loadedImages(agent, "console", 2, "the agent's image in the console");
  await loadedImages(visitor, "edgedesk", 2, "the agent's image in the widget");
  const names = await agent.locator(`${tid("console-attachment")} img`).evaluateAll((imgs) => imgs.map((i) => i.alt));
  assert.deepEqual(names, ["破损照片.png", "return-label.png"]);

  step("a type the workspace does not take is refused with a message, and nothing is sent");
  await attach(visitor, "edgedesk", "setup.exe", Buffer.from("MZ not really"), "application/x-msdownload");
  await waitFor(visitor.locator(tid("edgedesk-upload-failed")), "the refusal in the widget");
  assert.match((await visitor.locator(tid("edgedesk-upload-failed")).textContent()) ?? "", /setup\.exe/);

  step("offline: a photo waits in the outbox, the page closes, a new page sends it once");
  await phone.setOffline(true);
  await waitFor(visitor.locator(tid("edgedesk-offline-banner")), "the widget's offline banner");
  await attach(visitor, "edgedesk", `offline-${run}.png`, png(24, [30, 160, 90]));
  await waitFor(visitor.locator(tid("edgedesk-upload")), "the photo waiting in the widget's outbox");
  await visitor.close();
  await phone.setOffline(false);
  const again = await phone.newPage();
  assert.equal(await ui.openWidget(again, demo, config), conversation, "the same conversation");
  await loadedImages(again, "edgedesk", 3, "the offline photo sent from the new page");
  await loadedImages(agent, "console", 3, "the offline photo in the console");
  await again.waitForTimeout(1_500);
  const alts = await agent.locator(`${tid("console-attachment")} img`).evaluateAll((imgs) => imgs.map((i) => i.alt));
  assert.equal(alts.filter((a) => a === `offline-${run}.png`).length, 1, `sent once: ${JSON.stringify(alts)}`);
  assert.equal(await again.locator(tid("edgedesk-upload")).count(), 0, "the outbox is empty");
  await again.screenshot({ path: `${config.outDir}/attachments-widget-phone.png` });
  await agent.screenshot({ path: `${config.outDir}/attachments-console.png` });
});
