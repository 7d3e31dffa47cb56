// Issue 16, day-one bugs: the visitor's rating reaches the agent. The agent resolves the
// conversation, the visitor rates it in the widget, and the console shows the score and the
// comment in the conversation and the score in the list.
// Also the widget's header: no promise of a reply in minutes until an agent is online.

import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

scenario("csat_visible", async ({ config, newContext }) => {
  const run = nonce();
  const visitor = await (await newContext("visitor")).newPage();

  step("visitor writes");
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `Where is my parcel? ${run}`;
  await ui.send(visitor, "edgedesk", question);

  step("no agent online yet: the widget does not promise a reply in minutes");
  const header = visitor.locator(tid("edgedesk-availability"));
  await waitUntil("the header's 'as soon as we can'", async () => (await header.getAttribute("data-availability")) === "away");

  step("agent opens the conversation: no rating yet");
  const agent = await (await newContext("agent")).newPage();
  await ui.signInWithLink(agent, config);

  step("with an agent online, the widget opened again promises a reply in minutes");
  await visitor.locator(tid("edgedesk-launcher")).click();
  await visitor.locator(tid("edgedesk-launcher")).click();
  await waitUntil("the header's 'a few minutes'", async () =>
    (await header.getAttribute("data-availability")) === "open" && (await header.textContent()) === "We usually reply in a few minutes",
  );
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", question, "the visitor's question in the console");
  const rating = agent.locator(tid("console-rating"));
  await waitUntil("the rating field, empty", async () => (await rating.textContent())?.trim() === "—");

  step("agent resolves; the visitor rates 4");
  await agent.locator(tid("console-status")).selectOption("resolved");
  await waitFor(visitor.locator(tid("edgedesk-csat")), "the rating prompt in the widget");
  await visitor.locator(tid("edgedesk-csat-4")).click();
  await waitFor(visitor.locator(tid("edgedesk-csat-thanks")), "the widget's thanks");

  step("the console shows the rating");
  await waitUntil("the rating in the console", async () => (await rating.getAttribute("data-score")) === "4");
  const shown = (await rating.textContent()) ?? "";
  if (!shown.includes("4/5")) throw new Error(`the console shows the rating as ${JSON.stringify(shown)}`);

  step("the list shows it too (it lists all statuses)");
  const row = agent.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitUntil("the rating in the conversation's row", async () =>
    (await row.locator(tid("console-row-rating")).getAttribute("data-score", { timeout: 1_000 })) === "4",
  );
});
