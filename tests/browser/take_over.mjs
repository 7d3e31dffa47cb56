// Issue 16, day-one bugs: agents shown by raw id, take-over without a word. Two agents in
// their consoles: Grace answers first and so becomes the assignee (assign on reply); Ada sees
// "Grace", not "agent-grace", and Grace sees Ada typing; Ada's take-over asks for confirmation
// (cancelling changes nothing), and Grace is told who took the conversation.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

scenario("take_over", async ({ config, newContext }) => {
  const run = nonce();
  const visitor = await (await newContext("visitor")).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `Can someone help? ${run}`;
  await ui.send(visitor, "edgedesk", question);

  step("Grace replies and so becomes the assignee");
  const grace = await (await newContext("grace")).newPage();
  await ui.signInWithLink(grace, config);
  await ui.openInConsole(grace, conversation);
  await ui.send(grace, "console", `Grace here, looking into it ${run}`);
  const graceAssignee = grace.locator(tid("console-assignee"));
  await waitUntil("Grace assigned in her console", async () => (await graceAssignee.getAttribute("data-assignee")) === "agent-grace");

  step("Ada opens it: the assignee is shown by name");
  const ada = await (await newContext("ada")).newPage();
  await ui.signInWithLink(ada, config, config.secondAgentToken);
  await ui.openInConsole(ada, conversation);
  const adaAssignee = ada.locator(tid("console-assignee"));
  await waitUntil("'Grace' as the assignee in Ada's console", async () => (await adaAssignee.textContent()) === "Grace");
  const row = ada.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitUntil("'Grace' in Ada's list", async () => ((await row.textContent()) ?? "").includes("Grace"));

  step("Ada writes a note and starts typing: Grace sees her name");
  await ada.locator(tid("console-note-input")).fill(`I know this customer ${run}`);
  await ada.locator(tid("console-note-send")).click();
  await waitFor(grace.locator(tid("console-note")), "Ada's note in Grace's console");
  await ada.locator(tid("console-input")).pressSequentially("Let me", { delay: 50 });
  const typing = grace.locator(tid("console-typing"));
  await waitUntil("'Ada is typing…' in Grace's console", async () =>
    (await typing.isVisible()) && (await typing.textContent())?.includes("Ada is typing"),
  );

  step("Ada's take-over asks first; cancelling keeps Grace");
  const claim = ada.locator(tid("console-claim"));
  assert.equal(await claim.textContent(), "Take over");
  let asked = "";
  ada.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await claim.click();
  await waitUntil("the confirmation naming Grace", () => asked.includes("Grace"));
  await ada.waitForTimeout(1_000);
  assert.equal(await adaAssignee.getAttribute("data-assignee"), "agent-grace", "a cancelled take-over changes nothing");

  step("confirmed: Ada holds it, and Grace is told");
  ada.once("dialog", (d) => d.accept());
  await claim.click();
  await waitUntil("Ada assigned in her console", async () => (await adaAssignee.getAttribute("data-assignee")) === "agent-ada");
  const toast = grace.locator(tid("console-toast"));
  await waitUntil("Grace told that Ada took over", async () =>
    (await toast.isVisible()) && (await toast.textContent())?.startsWith("Ada took over"),
  );
  await waitUntil("'Ada' as the assignee in Grace's console", async () => (await graceAssignee.textContent()) === "Ada");
});
