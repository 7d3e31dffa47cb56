// Shared pieces of the browser scenarios: configuration from the environment, launching
// Debian's chromium through playwright-core, waiting for conditions, and failing with a
// message that says what was awaited and what the pages showed at that moment.
//
// Each scenario is run by tests/e2e/browser.rs against its own `wrangler dev`:
//   EDGEDESK_RELAY_URL   http://127.0.0.1:PORT (serves /widget.js, /console/, /demo/, /sdk/)
//   EDGEDESK_WORKSPACE   the workspace the site key opens
//   EDGEDESK_SITE_KEY    the widget's public key
//   EDGEDESK_AGENT_TOKEN a workspace-wide agent token for the console (agent-grace, "Grace")
//   EDGEDESK_SECOND_AGENT_TOKEN the same for a second agent (agent-ada, "Ada")
//   EDGEDESK_ADMIN_TOKEN a workspace-wide admin token (harness-admin), to create accounts
//   EDGEDESK_OUTPUT_DIR  where screenshots go (test-output/browser/)
//   EDGEDESK_DOCS_IMG    optional: a directory the README's screenshots are also copied to

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

// Patience for any single condition: workerd on two busy cores can be slow.
export const WAIT_MS = 60_000;
// The whole scenario, including chromium's start.
const SCENARIO_MS = 300_000;

const started = Date.now();

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name} (tests/e2e/browser.rs sets it)`);
    process.exit(2);
  }
  return value;
}

export function readConfig() {
  return {
    relayUrl: required("EDGEDESK_RELAY_URL").replace(/\/$/, ""),
    workspace: required("EDGEDESK_WORKSPACE"),
    siteKey: required("EDGEDESK_SITE_KEY"),
    agentToken: required("EDGEDESK_AGENT_TOKEN"),
    secondAgentToken: required("EDGEDESK_SECOND_AGENT_TOKEN"),
    adminToken: required("EDGEDESK_ADMIN_TOKEN"),
    outDir: required("EDGEDESK_OUTPUT_DIR"),
    docsImg: process.env.EDGEDESK_DOCS_IMG || null,
    // [{conversation, token}]: one visitor identity in two conversations.
    returningVisitor: JSON.parse(process.env.EDGEDESK_RETURNING_VISITOR || "[]"),
  };
}

// Prints a progress line with the seconds since the scenario started.
export function step(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

// A CSS selector for a data-testid; Playwright's CSS engine pierces open shadow roots.
export const tid = (id, extra = "") => `[data-testid="${id}"]${extra}`;

// A short random tag, so texts searched for in frames and DOM are unique to this run.
export const nonce = () => Math.random().toString(36).slice(2, 8);

// The conversation's stats as an agent reads them (message count, heads; no content).
export async function relayStats(config, conversation) {
  const url = `${config.relayUrl}/v1/workspaces/${config.workspace}/conversations/${conversation}/stats`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${config.agentToken}` } });
  if (res.status !== 200) assert.fail(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

// An error that ends a wait at once (a probe's other errors mean "not yet").
export class Fatal extends Error {}

// Polls `probe` until it returns a truthy value and returns that value. On timeout it
// throws naming `what` and the last value seen (or the last error thrown by `probe`).
export async function waitUntil(what, probe, { timeout = WAIT_MS, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = `error: ${e.message.split("\n")[0]}`;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout / 1000}s waiting for: ${what}\n  last seen: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Waits for a locator to reach a state, with the condition named in the error.
export async function waitFor(locator, what, state = "visible", timeout = WAIT_MS) {
  try {
    await locator.first().waitFor({ state, timeout });
  } catch (e) {
    throw new Error(`timed out after ${timeout / 1000}s waiting for: ${what} (${state})\n  ${e.message.split("\n")[0]}`);
  }
}

// Launches chromium and runs `body({ browser, config, newContext })`; exits 0 on success,
// 1 with a failure report (error, page logs, each page's testid'd elements, failure
// screenshots) otherwise.
export async function scenario(name, body) {
  const config = readConfig();
  mkdirSync(config.outDir, { recursive: true });
  // A previous run's failure screenshots would pass for this run's.
  for (const file of readdirSync(config.outDir)) {
    if (file.startsWith(`failure-${name}-`)) rmSync(join(config.outDir, file));
  }
  const logs = [];
  let browser;
  const timer = setTimeout(() => {
    fail(new Error(`scenario ${name} did not finish in ${SCENARIO_MS / 1000}s`));
  }, SCENARIO_MS);
  let failing = false;
  async function fail(error) {
    if (failing) return;
    failing = true;
    console.error(`\nFAILED: ${name}\n${error.stack || error}`);
    // Bounded: a page stuck mid-navigation never answers an evaluate, and the process must
    // still exit now, not when the harness gives up on it minutes later.
    try {
      await within(30_000, report(browser, logs, config.outDir, name), "reporting");
    } catch (e) {
      console.error(`(while reporting: ${e.message})`);
    }
    await within(10_000, browser?.close(), "closing the browser").catch(() => {});
    process.exit(1);
  }
  try {
    step(`${name}: launching ${CHROMIUM}`);
    browser = await launch();
    step(`chromium ${browser.version()}`);
    const newContext = async (label, options = {}) => {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        deviceScaleFactor: 1,
        ...options,
      });
      context.on("page", (page) => watchPage(page, label, logs));
      return context;
    };
    await body({ browser, config, newContext });
    clearTimeout(timer);
    await browser.close();
    step(`${name}: passed`);
    process.exit(0);
  } catch (error) {
    clearTimeout(timer);
    await fail(error);
  }
}

// `promise`, or a rejection naming `what` after `ms`.
function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Navigates `page` to `url`, trying again (up to three times) when a navigation times out: on
// this machine a navigation has now and then hung on a page's own scripts with no request for
// them reaching the relay's log, while the same scenario passed when run again. Each retry
// leaves for about:blank first: the same URL again (a console link differs only in its hash)
// would be a same-document navigation that loads nothing.
export async function goto(page, url, options = {}) {
  const timeout = options.timeout ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goto(url, { ...options, timeout });
    } catch (e) {
      if (attempt >= 3 || !/Timeout/.test(e.message)) throw e;
      step(`navigation to ${url} timed out after ${timeout / 1000}s (attempt ${attempt}); again`);
      await page.goto("about:blank", { timeout: 10_000 }).catch(() => {});
    }
  }
}

const CHROMIUM = "/usr/bin/chromium";

// Debian's chromium (scripts/setup.sh installs it), never a Playwright download. Each launch
// gets a fresh temporary profile (playwright's own user-data dir, removed on close).
async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT_MS,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

function watchPage(page, label, logs) {
  const tag = `${label}#${logs.filter((l) => l.startsWith("open ")).length}`;
  logs.push(`open ${tag}`);
  page.on("console", (m) => logs.push(`${tag} console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => {
    logs.push(`${tag} pageerror: ${e.message}`);
    console.log(`${tag} pageerror: ${e.message}`);
  });
  page.on("requestfailed", (r) =>
    logs.push(`${tag} requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`),
  );
  page.on("response", (r) => {
    if (r.status() >= 400) logs.push(`${tag} HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on("close", () => logs.push(`${tag} closed`));
}

async function report(browser, logs, outDir, name) {
  console.error(`\n--- page logs (${logs.length} lines) ---\n${logs.slice(-200).join("\n")}`);
  const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
  for (const [i, page] of pages.entries()) {
    const file = join(outDir, `failure-${name}-${i}.png`);
    await page.screenshot({ path: file, timeout: 10_000 }).catch(() => {});
    console.error(`\n--- page ${i}: ${page.url()} (screenshot ${file}) ---`);
    console.error(await describePage(page).catch((e) => `(could not describe: ${e.message})`));
  }
}

// Every element with a data-testid (shadow roots included): testid, data-* state, text.
export async function describePage(page) {
  const rows = await page.evaluate(() => {
    const out = [];
    const visit = (root) => {
      for (const el of root.querySelectorAll("*")) {
        if (el.dataset?.testid) {
          const data = Object.entries(el.dataset)
            .filter(([k]) => k !== "testid")
            .map(([k, v]) => `${k}=${v}`)
            .join(" ");
          const text = (el.innerText ?? el.textContent ?? "").replace(/\s+/g, " ").slice(0, 120);
          out.push(`${el.dataset.testid} [${data}] ${el.checkVisibility?.() ? "" : "(hidden) "}${text}`);
        }
        if (el.shadowRoot) visit(el.shadowRoot);
      }
    };
    visit(document);
    return out;
  });
  return rows.join("\n");
}
