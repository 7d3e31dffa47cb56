// Issue 6, acceptance 3: an agent's internal note and tag never reach the visitor's page:
// not in any WebSocket frame the page sends or receives, not in the widget's DOM.
//
// The frame search is proven able to see text twice over: the agent's ordinary reply, sent
// after the note and the tag, must be found in the visitor's frames, and the note and the tag
// themselves in the agent's frames (the same search, on the page that may see them). Every
// text is short: Automerge DEFLATE-compresses only changes of 256 bytes or more, so a short
// string travels verbatim.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

// Every WebSocket frame `page` sends or receives, as bytes.
function recordFrames(page) {
  const frames = [];
  page.on("websocket", (ws) => {
    const keep = (direction) => ({ payload }) =>
      frames.push({ direction, url: ws.url(), bytes: Buffer.from(payload) });
    ws.on("framereceived", keep("received"));
    ws.on("framesent", keep("sent"));
  });
  return frames;
}

function framesWith(frames, text) {
  const needle = Buffer.from(text, "utf8");
  return frames.filter((f) => f.bytes.includes(needle));
}

scenario("internal_hidden", async ({ config, newContext }) => {
  const run = nonce();
  const visitor = await (await newContext("visitor")).newPage();
  const frames = recordFrames(visitor);

  step("visitor opens the widget and writes");
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `Can I get an invoice? ${run}`;
  await ui.send(visitor, "edgedesk", question);
  await ui.waitForMessage(visitor, "edgedesk", question, "the visitor's question, delivered",
    (m) => m.state === "delivered" || m.state === "read");

  step("agent writes an internal note and a tag");
  const agent = await (await newContext("agent")).newPage();
  const agentFrames = recordFrames(agent);
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", question, "the visitor's question in the console");
  const note = `note-${run} reseller, refund via B2B`;
  const tag = `tag-${run}-vip`;
  await agent.locator(tid("console-note-input")).fill(note);
  await agent.locator(tid("console-note-send")).click();
  await waitFor(agent.locator(tid("console-note"), { hasText: note }), "the note in the console's notes");
  await agent.locator(tid("console-tag-input")).fill(tag);
  await agent.locator(tid("console-tag-add")).click();
  await waitFor(agent.locator(tid("console-tag"), { hasText: tag }), "the tag in the console's tags");

  step("agent replies; the reply reaches the visitor's page");
  const reply = `Sure, invoice sent ${run}`;
  await ui.send(agent, "console", reply);
  await ui.waitForMessage(visitor, "edgedesk", reply, "the agent's reply in the widget");

  step(`searching ${frames.length} frames of the visitor's page`);
  assert.ok(frames.some((f) => f.direction === "received"), "the visitor's page received no frames");
  assert.ok(framesWith(frames, reply).length > 0,
    "the agent's reply is in no frame of the visitor's page: the search cannot see text");
  for (const secret of [note, tag]) {
    assert.ok(framesWith(agentFrames, secret).length > 0,
      `"${secret}" is in no frame of the agent's page: the search cannot see internal data`);
  }
  for (const secret of [note, `note-${run}`, tag]) {
    const leaks = framesWith(frames, secret).map((f) => `${f.direction} ${f.bytes.length} B on ${f.url}`);
    assert.deepEqual(leaks, [], `"${secret}" reached the visitor's page in frames`);
  }

  step("searching the visitor's DOM");
  const dom = await visitor.evaluate(() => {
    const root = document.getElementById("edgedesk-widget")?.shadowRoot;
    return {
      // A shadow root has no innerText of its own; its elements do.
      shadowText: root ? [...root.children].map((el) => el.innerText).join("\n") : null,
      shadowHtml: root?.innerHTML ?? null,
      pageHtml: document.documentElement.outerHTML,
    };
  });
  assert.notEqual(dom.shadowText, null, "no open shadow root on #edgedesk-widget");
  assert.ok(dom.shadowText.includes(reply), "the widget's text lacks the agent's reply");
  for (const secret of [`note-${run}`, tag]) {
    for (const [where, text] of Object.entries(dom)) {
      assert.ok(!text.includes(secret), `"${secret}" is in the visitor's ${where}`);
    }
  }
});
