// Issue 16, acceptance 5: axe-core (the engine, injected into the page) finds no serious or
// critical accessibility violation in the widget (open, with messages) and the console (sign
// in, the list, an open conversation), on a desktop and on a phone.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { nonce, scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** axe's serious and critical violations on `page`, one line each with where they are. */
async function violations(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    // @ts-ignore: injected above
    window.axe.run(document, { resultTypes: ["violations"] }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" > ")).join(", ")}`);
}

async function expectNone(page, where) {
  const found = await violations(page);
  if (found.length) throw new Error(`axe-core, ${where}:\n  ${found.join("\n  ")}`);
  step(`${where}: no serious or critical violation`);
}

scenario("accessibility", async ({ config, newContext }) => {
  const run = nonce();
  for (const [label, options] of [["desktop", {}], ["phone", PHONE]]) {
    step(`${label}: the widget, open with a message`);
    const visitor = await (await newContext(`visitor-${label}`, options)).newPage();
    const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
    await ui.send(visitor, "edgedesk", `Hello ${run}`);
    await ui.waitForMessage(visitor, "edgedesk", `Hello ${run}`, "the visitor's message");
    await expectNone(visitor, `${label} widget`);

    step(`${label}: the console`);
    const agent = await (await newContext(`agent-${label}`, options)).newPage();
    await agent.goto(`${config.relayUrl}/console/`);
    await waitFor(agent.locator(tid("console-signin")), "the sign-in form");
    await expectNone(agent, `${label} console sign-in`);
    await ui.signInWithLink(agent, config);
    await waitFor(agent.locator(tid("console-conversation")).first(), "a conversation in the list");
    await expectNone(agent, `${label} console list`);
    await ui.openInConsole(agent, conversation);
    await ui.waitForMessage(agent, "console", `Hello ${run}`, "the message in the console");
    await expectNone(agent, `${label} console conversation`);
  }
});
