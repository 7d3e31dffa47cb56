// The widget and the console as a person uses them, through the data-testids of the
// contract (notes/issue6.md): open, type, send, read what is shown.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import zlib from "node:zlib";
import { Fatal, goto as navigate, step, tid, waitFor, waitUntil } from "./lib.mjs";

// A `data-color` that is not a colour but markup: the widget must neither render it nor run
// it (it used to be pasted into the shadow root's stylesheet).
export const HOSTILE_COLOR = `red;}</style><img id="injected" src="x">`;

// A shop's page on an origin that is not the relay's, embedding the widget the way the
// README tells site owners to: one script tag pointing at the relay (whose `data-color` is
// `HOSTILE_COLOR`, HTML-escaped as a careless site would still have to write it).
export function shopHtml(config) {
  const color = HOSTILE_COLOR.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Shop</title>
<style>body{font-family:sans-serif;margin:40px;color:#222}h1{margin-top:0}</style></head>
<body><h1>Acme Shop</h1><p>Order #1042: blue running shoes, size 42.</p>
<script src="${config.relayUrl}/widget.js" data-site-key="${config.siteKey}" data-color="${color}" async></script>
</body></html>`;
}

// What the widget made of `HOSTILE_COLOR`: whether markup got into its shadow root, and the
// accent it uses.
export async function accentOf(page) {
  return page.evaluate(() => {
    const root = document.querySelector("#edgedesk-widget")?.shadowRoot;
    const ed = root?.querySelector(".ed");
    return {
      injected: Boolean(root?.querySelector("#injected")),
      accent: ed ? getComputedStyle(ed).getPropertyValue("--accent").trim() : null,
    };
  });
}

// Serves `shopHtml` as `origin` in `context` (no network: Playwright answers the request).
export async function routeShop(context, config, origin) {
  await context.route(`${origin}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === "/") {
      return route.fulfill({ status: 200, contentType: "text/html", body: shopHtml(config) });
    }
    return route.fulfill({ status: 404, body: "" });
  });
}

// The relay's demo shop page, with the widget for the test's site key.
export function demoUrl(config) {
  return `${config.relayUrl}/demo/?site_key=${encodeURIComponent(config.siteKey)}`;
}

// Loads `url` (with playwright's `goto` options, e.g. a referer), waits for the widget, opens
// its panel; returns the conversation id. Fails at
// once if the widget's script or the SDK cannot be loaded from the relay.
export async function openWidget(page, url, config, goto = {}) {
  const broken = [];
  const assets = /\/(widget\.js|sdk\/)/;
  page.on("response", (r) => {
    if (r.status() >= 400 && assets.test(r.url())) broken.push(`${r.status()} ${r.url()}`);
  });
  page.on("requestfailed", (r) => {
    if (assets.test(r.url())) broken.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  const loaded = () => {
    if (broken.length) throw new Fatal(`the widget could not load: ${broken.join("; ")}`);
  };
  await navigate(page, url, goto);
  await waitUntil("window.EdgedeskWidget on the host page", () => {
    loaded();
    return page.evaluate(() => Boolean(window.EdgedeskWidget));
  });
  await waitUntil("EdgedeskWidget.ready", async () => {
    loaded();
    const outcome = await page.evaluate(() =>
      window.EdgedeskWidget.ready.then(() => "ready", (e) => `rejected: ${e?.message ?? e}`),
    );
    if (outcome !== "ready") throw new Fatal(`EdgedeskWidget.ready ${outcome}`);
    return true;
  });
  await waitFor(page.locator(tid("edgedesk-launcher")), "the widget's launcher");
  await page.locator(tid("edgedesk-launcher")).click();
  await waitFor(page.locator(tid("edgedesk-panel")), "the widget's panel after a click on the launcher");
  return waitUntil("the widget's conversation id (EdgedeskWidget.conversation)", () =>
    page.evaluate(
      (key) =>
        window.EdgedeskWidget.conversation ||
        JSON.parse(localStorage.getItem(key) || "{}").conversation,
      `edgedesk:widget:${config.siteKey}`,
    ),
  );
}

// The messages `prefix` ("edgedesk" = widget, "console" = console) shows, in order.
export async function shownMessages(page, prefix) {
  return page.locator(tid(`${prefix}-message`)).evaluateAll(
    (els, ticksId) =>
      els.map((el) => ({
        id: el.dataset.id,
        kind: el.dataset.kind,
        own: el.dataset.own,
        state: el.dataset.state,
        text: el.innerText,
        ticks: el.querySelector(`[data-testid="${ticksId}"]`)?.textContent.trim() ?? null,
      })),
    `${prefix}-ticks`,
  );
}

// The shown messages whose text contains `body`.
export async function shownWith(page, prefix, body) {
  return (await shownMessages(page, prefix)).filter((m) => m.text.includes(body));
}

// Waits until exactly one shown message contains `body` and `accept(message)` holds;
// returns that message.
export async function waitForMessage(page, prefix, body, what, accept = () => true) {
  let seen = [];
  try {
    return await waitUntil(`${prefix}: ${what}`, async () => {
      seen = await shownWith(page, prefix, body);
      return seen.length === 1 && accept(seen[0]) ? seen[0] : null;
    });
  } catch (e) {
    throw new Error(`${e.message}\n  messages containing ${JSON.stringify(body)}: ${JSON.stringify(seen)}`);
  }
}

// Types `body` into `prefix`'s input and presses its send button.
export async function send(page, prefix, body) {
  const input = page.locator(tid(`${prefix}-input`));
  await waitFor(input, `${prefix}'s message input`);
  await input.fill(body);
  await page.locator(tid(`${prefix}-send`)).click();
}

// Signs in to the console with the workspace and a token typed into its form.
export async function signInWithForm(page, config) {
  await navigate(page, `${config.relayUrl}/console/`);
  await waitFor(page.locator(tid("console-signin")), "the console's sign-in form");
  await page.locator(tid("console-workspace")).fill(config.workspace);
  await page.locator(tid("console-token-signin")).locator("summary").click();
  await page.locator(tid("console-token")).fill(config.agentToken);
  await page.locator(tid("console-signin")).click();
  await waitFor(page.locator(tid("console-list")), "the console's conversation list after sign-in");
}

// Signs in to the console through the `#workspace=…&token=…` link (as the first agent unless
// another token is given).
export async function signInWithLink(page, config, token = config.agentToken) {
  const hash = new URLSearchParams({ workspace: config.workspace, token });
  await navigate(page, `${config.relayUrl}/console/#${hash}`);
  await waitFor(page.locator(tid("console-list")), "the console's conversation list (link sign-in)");
}

// Opens `conversation` from the console's list once it is listed.
export async function openInConsole(page, conversation) {
  const item = page.locator(tid("console-conversation", `[data-id="${conversation}"]`));
  await waitFor(item, `conversation ${conversation} in the console's list`);
  await item.first().click();
  await waitFor(page.locator(tid("console-messages")), "the console's message view");
}

// A screenshot into EDGEDESK_OUTPUT_DIR, also copied to EDGEDESK_DOCS_IMG when set.
export async function shoot(page, config, name) {
  const file = join(config.outDir, name);
  await page.screenshot({ path: file });
  assert.ok(statSync(file).size > 10_000, `${file} is suspiciously small`);
  step(`saved ${file}`);
  if (config.docsImg) {
    mkdirSync(config.docsImg, { recursive: true });
    copyFileSync(file, join(config.docsImg, name));
    step(`copied to ${join(config.docsImg, name)}`);
  }
}

// A call to the relay's HTTP API of the test workspace: (status, JSON). `token` defaults to
// the harness's admin; null sends none.
export async function api(config, method, path, body, token = config.adminToken) {
  const r = await fetch(`${config.relayUrl}/v1/workspaces/${config.workspace}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

// Signs in to the console with an email and a password typed into its form.
export async function passwordSignIn(page, config, email, password) {
  await navigate(page, `${config.relayUrl}/console/`);
  await waitFor(page.locator(tid("console-signin")), "the sign-in form");
  await page.locator(tid("console-workspace")).fill(config.workspace);
  await page.locator(tid("console-email")).fill(email);
  await page.locator(tid("console-password")).fill(password);
  await page.locator(tid("console-signin")).click();
}

// A solid-colour PNG, `size` pixels square, as bytes.
export function png(size, [r, g, b]) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array(size).fill([r, g, b]).flat())]);
  const pixels = zlib.deflateSync(Buffer.concat(Array(size).fill(row)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", pixels),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// Picks `buffer` as file `name` in `prefix`'s file input (the widget's or the console's).
export async function attach(page, prefix, name, buffer, mimeType = "image/png") {
  await page.locator(tid(`${prefix}-file`)).setInputFiles({ name, mimeType, buffer });
}

// Waits until `prefix`'s view shows exactly `n` attachment images, all loaded.
export async function loadedImages(page, prefix, n, what) {
  return waitUntil(what, async () => {
    const widths = await page
      .locator(`${tid(`${prefix}-attachment`)} img`)
      .evaluateAll((imgs) => imgs.map((i) => (i.complete ? i.naturalWidth : 0)));
    return widths.length === n && widths.every((w) => w > 0) ? widths : null;
  });
}
