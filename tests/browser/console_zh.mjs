// Issue 16, a Chinese console UI: an agent whose browser prefers Chinese (locale zh-CN) gets
// the console in Chinese: <html lang="zh-CN">, the filters, the reply box, the status, the
// visitor panel and the sign-out button in Chinese, and no English word anywhere in the
// console's chrome (people's data, marked data-user-content, is theirs), its alerts menu, its
// shortcuts list or an admin's Agents page; no label overflows its control on a desk
// (1440x900) or a phone (390x844). The language switch in the top bar turns it English at
// once, and a reload keeps the choice.

import assert from "node:assert/strict";
import { nonce, scenario, step, tid, waitFor, waitUntil } from "./lib.mjs";
import * as ui from "./pages.mjs";

const DESK = { locale: "zh-CN", viewport: { width: 1440, height: 900 } };
const PHONE = { locale: "zh-CN", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const CJK = /[\u3400-\u9fff]/;
// Latin words a Chinese console keeps: the product's name, abbreviations, and key names.
const ALLOWED = new Set(["edgedesk", "VIP", "ID", "URL", "SDK", "Enter", "Shift", "Alt", "Esc"]);

// Every string the console shows outside people's data: visible text nodes, a select's shown
// option, and placeholders, aria-labels and titles of visible elements.
async function chromeTexts(page) {
  return page.evaluate(() => {
    const out = [];
    const walk = (node) => {
      if (node.nodeType === Node.TEXT_NODE) {
        const text = node.textContent.trim();
        if (text) out.push(text);
        return;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) return;
      const el = /** @type {HTMLElement} */ (node);
      if (el.hasAttribute("data-user-content") || !el.checkVisibility({ visibilityProperty: true })) return;
      for (const a of ["placeholder", "aria-label", "title"]) if (el.getAttribute(a)) out.push(el.getAttribute(a));
      if (el instanceof HTMLSelectElement) {
        out.push(el.selectedOptions[0]?.text ?? "");
        return;
      }
      el.childNodes.forEach(walk);
    };
    walk(document.body);
    return out;
  });
}

// The English words among `texts`, each with the string it is in.
function englishIn(texts) {
  return texts.flatMap((t) => (t.match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !ALLOWED.has(w)).map((w) => `${w} in ${JSON.stringify(t)}`));
}

async function expectNoEnglish(page, where) {
  const texts = await chromeTexts(page);
  assert.ok(texts.length > 10, `${where}: only ${texts.length} strings found`);
  assert.deepEqual(englishIn(texts), [], `${where}: English in the Chinese console`);
}

// Controls whose label does not fit: text wider or taller than the control (a CJK label
// wraps one character per line when squeezed), or the control outside the viewport.
async function overflowing(page) {
  return page.evaluate(() => {
    const ctx = document.createElement("canvas").getContext("2d");
    const bad = [];
    for (const el of document.querySelectorAll("button, select, summary, .toggle, .pill, .conn, .count, .prio")) {
      const e = /** @type {HTMLElement} */ (el);
      if (!e.checkVisibility({ visibilityProperty: true }) || e.closest("[data-user-content]")) continue;
      const r = e.getBoundingClientRect();
      const style = getComputedStyle(e);
      let tooWide = e.scrollWidth > e.clientWidth + 1;
      if (e instanceof HTMLSelectElement) {
        ctx.font = style.font;
        const text = ctx.measureText(e.selectedOptions[0]?.text ?? "").width;
        tooWide = text + parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) > e.clientWidth + 1;
      }
      const tooTall = e.scrollHeight > e.clientHeight + 1;
      const outside = r.left < -1 || r.right > innerWidth + 1;
      if (tooWide || tooTall || outside) {
        bad.push(`${e.dataset.testid || e.id || e.className} ${JSON.stringify(e.textContent.trim().slice(0, 30))}: ` +
          `${Math.round(r.left)}..${Math.round(r.right)} of ${innerWidth}, scroll ${e.scrollWidth}x${e.scrollHeight} client ${e.clientWidth}x${e.clientHeight}`);
      }
    }
    if (document.documentElement.scrollWidth > innerWidth) bad.push(`the page is ${document.documentElement.scrollWidth}px wide`);
    return bad;
  });
}

async function expectFits(page, where) {
  assert.deepEqual(await overflowing(page), [], `${where}: labels overflow their controls`);
}

const shownOption = (page, id) => page.locator(tid(id)).evaluate((s) => s.selectedOptions[0]?.text ?? "");

scenario("console_zh", async ({ config, newContext }) => {
  const run = nonce();
  step("a visitor writes");
  const visitor = await (await newContext("visitor")).newPage();
  const conversation = await ui.openWidget(visitor, ui.demoUrl(config), config);
  const question = `Where is my parcel? 我的快递到哪里了？${run}`;
  await ui.send(visitor, "edgedesk", question);

  step("an agent whose browser prefers Chinese signs in and opens the conversation");
  const agent = await (await newContext("agent-zh", DESK)).newPage();
  await ui.signInWithLink(agent, config);
  await ui.openInConsole(agent, conversation);
  await ui.waitForMessage(agent, "console", question, "the visitor's question in the console");
  await waitUntil("the console connected", async () => (await agent.locator(tid("console-connection")).getAttribute("data-state")) === "connected");
  // The visitor panel fills from the conversation's summary.
  await waitFor(agent.locator(tid("console-visitor-name")), "the visitor panel");

  step("the console is in Chinese");
  assert.equal(await agent.evaluate(() => document.documentElement.lang), "zh-CN");
  assert.match(await agent.title(), CJK, "the tab's title");
  const visitorLabels = await agent.locator(`${tid("console-visitor")} :is(h3, h4, dt)`).allTextContents();
  const shown = {
    "status filter": await shownOption(agent, "console-filter-status"),
    "assignee filter": await shownOption(agent, "console-filter-assignee"),
    "unread filter": await agent.locator("label.toggle").textContent(),
    "reply placeholder": await agent.locator(tid("console-input")).getAttribute("placeholder"),
    "send button": await agent.locator(tid("console-send")).textContent(),
    "status": await shownOption(agent, "console-status"),
    "claim button": await agent.locator(tid("console-claim")).textContent(),
    "connection": await agent.locator(tid("console-connection")).textContent(),
    "sign-out button": await agent.locator(tid("console-signout")).textContent(),
    "language switch": await shownOption(agent, "console-lang"),
    ...Object.fromEntries(visitorLabels.filter((l) => l !== "VIP").map((l, i) => [`visitor panel label ${i}`, l])),
  };
  for (const [what, text] of Object.entries(shown)) assert.match(text ?? "", CJK, `${what}: ${JSON.stringify(text)}`);
  assert.ok(visitorLabels.length >= 5, `visitor panel labels: ${JSON.stringify(visitorLabels)}`);
  await expectNoEnglish(agent, "1440x900");
  await expectFits(agent, "1440x900");
  await ui.shoot(agent, config, "console-zh-1440x900.png");

  step("the alerts menu and the shortcuts list are Chinese too");
  await agent.locator(tid("console-prefs")).click();
  await waitFor(agent.locator(tid("console-pref-sound")), "the alerts menu");
  await expectNoEnglish(agent, "the alerts menu");
  await agent.locator(tid("console-shortcuts-open")).click();
  await waitFor(agent.locator(tid("console-shortcuts")), "the shortcuts list");
  assert.match((await agent.locator("#shortcuts-list").textContent()) ?? "", CJK);
  await expectNoEnglish(agent, "the shortcuts list");
  await agent.keyboard.press("Escape");
  await waitFor(agent.locator(tid("console-shortcuts")), "the shortcuts list closed", "hidden");
  await agent.locator(tid("console-prefs")).click();

  step("an admin's Agents page is Chinese: labels, roles and states (names and addresses are data)");
  const created = await ui.api(config, "PUT", "/agents/agent-li", {
    email: `li-${run}@shop.example`, name: "李娜", role: "agent", password: `密码 password ${run}`,
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const admin = await (await newContext("admin-zh", DESK)).newPage();
  await ui.signInWithLink(admin, config, config.adminToken);
  await admin.locator(tid("console-agents-open")).click();
  const li = admin.locator(tid("agents-row", `[data-id="agent-li"]`));
  await waitFor(li, "the agent in the agents list");
  assert.match((await li.textContent()) ?? "", /李娜.*客服.*正常/);
  await expectNoEnglish(admin, "the agents page");
  await expectFits(admin, "the agents page");
  await admin.close();

  step("on a phone too: the list, then the conversation, nothing overflows");
  const phone = await (await newContext("agent-zh-phone", PHONE)).newPage();
  await ui.signInWithLink(phone, config);
  const row = phone.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitFor(row, "the conversation in the phone's list");
  await expectNoEnglish(phone, "390x844 list");
  await expectFits(phone, "390x844 list");
  await row.tap();
  await ui.waitForMessage(phone, "console", question, "the visitor's question on the phone");
  await expectNoEnglish(phone, "390x844 conversation");
  await expectFits(phone, "390x844 conversation");
  await phone.locator(tid("console-details-toggle")).tap();
  await waitFor(phone.locator(tid("console-status")), "the details drawer");
  await expectNoEnglish(phone, "390x844 details");
  await expectFits(phone, "390x844 details");
  await phone.locator(tid("console-details-close")).tap();
  await phone.locator(tid("console-input")).blur();
  await ui.shoot(phone, config, "console-zh-390x844.png");

  step("the language switch turns the console English at once");
  await agent.locator(tid("console-lang")).selectOption("en");
  const send = agent.locator(tid("console-send"));
  await waitUntil("the send button says Send", async () => (await send.textContent()) === "Send");
  assert.equal(await agent.evaluate(() => document.documentElement.lang), "en");
  assert.equal(await shownOption(agent, "console-status"), "Open");
  assert.equal(await agent.locator(tid("console-signout")).textContent(), "Sign out");
  assert.equal(await agent.locator(tid("console-claim")).textContent(), "Assign to me");
  assert.equal((await ui.shownWith(agent, "console", question)).length, 1, "the conversation stays on screen");
  // (The counts come back from the relay a moment later.)
  let chinese = [];
  await waitUntil("no Chinese left in the English console", async () => {
    chinese = (await chromeTexts(agent)).filter((t) => CJK.test(t));
    return chinese.length === 0;
  }).catch((e) => assert.fail(`${e.message}\n  Chinese: ${JSON.stringify(chinese)}`));

  step("a reload keeps English (the choice is remembered over the browser's Chinese)");
  await agent.reload();
  await waitFor(agent.locator(tid("console-list")), "the console after the reload");
  await ui.waitForMessage(agent, "console", question, "the conversation after the reload");
  assert.equal(await send.textContent(), "Send");
  assert.equal(await agent.evaluate(() => document.documentElement.lang), "en");
  assert.equal(await agent.locator(tid("console-lang")).inputValue(), "en");
  assert.equal(await agent.evaluate(() => localStorage.getItem("edgedesk:console:lang")), "en");
  assert.doesNotMatch(await shownOption(agent, "console-filter-status"), CJK);
});
