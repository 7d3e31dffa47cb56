// Issue 16, the visitor panel: the agent sees who it is talking to. A widget visitor arrives
// from a search page; the console shows the visitor's page and referrer (without the query
// string the widget never sends). A returning visitor (one identity, as a site's own login
// mints it, in two conversations) writes in both through the browser SDK; the console lists
// the first under "earlier conversations" of the second, and a click opens it.

import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const SEARCH = "https://search.example/results?q=%E9%80%80%E6%AC%BE";

scenario("visitor_panel", async ({ config, newContext }) => {
  const run = nonce();
  if (config.returningVisitor.length !== 2) throw new Error("EDGEDESK_RETURNING_VISITOR needs two tokens");

  step("a visitor comes from a search page and writes in the widget");
  const visitor = await (await newContext("visitor")).newPage();
  const url = `${ui.demoUrl(config)}&secret=${run}`;
  const conversation = await ui.openWidget(visitor, url, config, { referer: SEARCH });
  const question = `我的退款到了吗？ ${run}`;
  await ui.send(visitor, "edgedesk", question);

  step("the returning visitor writes in two conversations (browser SDK, its own tokens)");
  const app = await (await newContext("returning")).newPage();
  await app.goto(`${config.relayUrl}/sdk/edgedesk.js`); // any page of the relay's origin
  for (const [i, { conversation: conv, token }] of config.returningVisitor.entries()) {
    await app.evaluate(
      async ({ base, workspace, conv, token, body }) => {
        const sdk = await import(`${base}/sdk/edgedesk.js`);
        await sdk.default();
        const client = await sdk.ChatClient.open({
          baseUrl: base,
          workspace,
          conversation: conv,
          token,
          identity: { role: "visitor", participant: "v-returning", name: "Mei Chen", device: "phone" },
          online: true,
        });
        await client.sendText(body);
        const deadline = Date.now() + 30_000;
        while (client.pending().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const left = client.pending().length;
        await client.close();
        if (left) throw new Error(`${left} message(s) still pending in ${conv}`);
      },
      { base: config.relayUrl, workspace: config.workspace, conv, token, body: `order ${i + 1} ${run}` },
    );
  }

  step("the console shows the widget visitor's page and referrer, no query string");
  const agent = await (await newContext("agent", { viewport: { width: 1440, height: 900 } })).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", question, "the visitor's question in the console");
  const page = agent.locator(tid("console-visitor-page_url"));
  await waitFor(page, "the visitor's page in the panel");
  const pageText = (await page.textContent()) ?? "";
  const expectedPage = new URL(url);
  if (!pageText.includes(`${expectedPage.host}/demo/`) || pageText.includes(run) || pageText.includes("?")) {
    throw new Error(`the panel shows the page as ${JSON.stringify(pageText)}`);
  }
  const referrer = (await agent.locator(tid("console-visitor-referrer")).textContent()) ?? "";
  if (!referrer.includes("search.example") || referrer.includes("?")) {
    throw new Error(`the panel shows the referrer as ${JSON.stringify(referrer)}`);
  }
  await waitUntil("the channel row", async () => (await agent.locator(tid("console-visitor-channel")).textContent()) === "web");
  await waitUntil("no earlier conversations for a first-time visitor", async () =>
    (await agent.locator(tid("console-earlier")).textContent())?.includes("None"),
  );

  step("the returning visitor's second conversation lists the first; a click opens it");
  const [first, second] = config.returningVisitor.map((t) => t.conversation);
  await ui.openInConsole(agent, second);
  await waitUntil("the visitor's name in the panel", async () =>
    (await agent.locator(tid("console-visitor-name")).textContent()) === "Mei Chen",
  );
  const earlier = agent.locator(tid("console-earlier-item"));
  await waitUntil("exactly the first conversation under 'earlier conversations'", async () => {
    const ids = await earlier.evaluateAll((els) => els.map((el) => el.dataset.id));
    return ids.length === 1 && ids[0] === first;
  });
  if (!((await earlier.textContent()) ?? "").includes(`order 1 ${run}`)) {
    throw new Error(`the earlier conversation shows ${JSON.stringify(await earlier.textContent())}`);
  }
  await earlier.click();
  await ui.waitForMessage(agent, "console", `order 1 ${run}`, "the earlier conversation opened from the panel");
  await waitUntil("the second conversation now listed as earlier", async () => {
    const ids = await earlier.evaluateAll((els) => els.map((el) => el.dataset.id));
    return ids.length === 1 && ids[0] === second;
  });
  await ui.shoot(agent, config, "visitor-panel-1440x900.png");
});
