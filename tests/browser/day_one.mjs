// Issue 16, acceptance 2: a support team's first conversation, end to end. Two agents sign in
// to the console with passwords (Grace on a phone, Ada at a desk); a visitor on a phone
// writes and sends a photo; Grace claims the conversation and sends an image back; Ada takes
// it over after confirming, and Grace is told; Ada resolves it and the visitor rates it;
// each side sees the other's image. Screenshots of the widget and the console at 390x844 and
// 1440x900 (EDGEDESK_DOCS_IMG=docs/img refreshes the README's).

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const DESK = { viewport: { width: 1440, height: 900 } };

scenario("day_one", async ({ config, newContext }) => {
  const run = nonce();
  const password = `day one ${run} 密码`;
  step("the operator creates two agents' accounts");
  for (const [id, name] of [["agent-grace", "Grace"], ["agent-ada", "Ada"]]) {
    const r = await ui.api(config, "PUT", `/agents/${id}`, {
      email: `${name.toLowerCase()}-${run}@shop.example`, name, role: "agent", password,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }

  step("a visitor on a phone asks for help and sends a photo");
  const visitor = await (await newContext("visitor", PHONE)).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  await ui.send(visitor, "edgedesk", `您好，我的包裹破损了 ${run}`);
  await ui.attach(visitor, "edgedesk", "破损.png", ui.png(120, [214, 64, 64]));
  await ui.loadedImages(visitor, "edgedesk", 1, "the visitor's photo in the widget");

  step("Grace signs in on her phone with her password and claims the conversation");
  const grace = await (await newContext("grace", PHONE)).newPage();
  await ui.passwordSignIn(grace, config, `grace-${run}@shop.example`, password);
  await waitFor(grace.locator(tid("console-list")), "Grace's console");
  await ui.openInConsole(grace, conversation);
  await ui.loadedImages(grace, "console", 1, "the visitor's photo in Grace's console");
  // On a phone the case details are a drawer.
  await grace.locator(tid("console-details-toggle")).click();
  const claim = grace.locator(tid("console-claim"));
  await waitUntil("the claim button", async () => (await claim.textContent()) === "Assign to me");
  await claim.click();
  const graceAssignee = grace.locator(tid("console-assignee"));
  await waitUntil("Grace assigned", async () => (await graceAssignee.getAttribute("data-assignee")) === "agent-grace");
  await grace.locator(tid("console-details-close")).click();

  step("Grace sends an image back; the visitor sees it");
  await ui.send(grace, "console", `Sorry about that! Here is the return label ${run}`);
  await ui.attach(grace, "console", "return-label.png", ui.png(120, [52, 120, 214]));
  await ui.loadedImages(visitor, "edgedesk", 2, "Grace's image in the widget");

  step("Ada signs in at her desk and takes over after confirming; Grace is told");
  const ada = await (await newContext("ada", DESK)).newPage();
  await ui.passwordSignIn(ada, config, `ada-${run}@shop.example`, password);
  await waitFor(ada.locator(tid("console-list")), "Ada's console");
  await ui.openInConsole(ada, conversation);
  await ui.loadedImages(ada, "console", 2, "both images in Ada's console");
  const takeOver = ada.locator(tid("console-claim"));
  await waitUntil("the Take over button", async () => (await takeOver.textContent()) === "Take over");
  let asked = "";
  ada.once("dialog", (d) => {
    asked = d.message();
    d.accept();
  });
  await takeOver.click();
  await waitUntil("the confirmation naming Grace", () => asked.includes("Grace"));
  await waitUntil("Ada assigned", async () =>
    (await ada.locator(tid("console-assignee")).getAttribute("data-assignee")) === "agent-ada",
  );
  const toast = grace.locator(tid("console-toast"));
  await waitUntil("Grace told that Ada took over", async () => (await toast.textContent())?.startsWith("Ada took over"));

  step("Ada answers, resolves; the visitor rates it and Ada sees the rating");
  await ui.send(ada, "console", `A new parcel is on its way ${run}`);
  await ui.waitForMessage(visitor, "edgedesk", `A new parcel is on its way ${run}`, "Ada's answer in the widget");
  await ada.locator(tid("console-status")).selectOption("resolved");
  await waitFor(visitor.locator(tid("edgedesk-csat")), "the rating prompt");
  await visitor.locator(tid("edgedesk-csat-5")).click();
  await waitFor(visitor.locator(tid("edgedesk-csat-thanks")), "the widget's thanks");
  await waitUntil("the rating in Ada's console", async () =>
    (await ada.locator(tid("console-rating")).getAttribute("data-score")) === "5",
  );

  step("screenshots: widget and console, phone and desk");
  await ui.shoot(visitor, config, "day-one-widget-390x844.png");
  await ui.shoot(grace, config, "day-one-console-390x844.png");
  await ui.shoot(ada, config, "day-one-console-1440x900.png");
  await visitor.setViewportSize(DESK.viewport);
  await visitor.waitForTimeout(300);
  await ui.shoot(visitor, config, "day-one-widget-1440x900.png");
});
