// Issue 16, day-one bugs: the widget on a phone (390x844) in Chinese. Its textarea is at least
// 16 px (mobile Safari zooms the page into any smaller field), every string it shows is
// Chinese (it said "Powered by"), and its font stack names the CJK fonts Linux desktops have.

import assert from "node:assert/strict";
import { join } from "node:path";
import { scenario, step, tid, waitFor } from "./lib.mjs";
import * as ui from "./pages.mjs";

scenario("widget_phone_zh", async ({ config, newContext }) => {
  const phone = await (await newContext("visitor", { viewport: { width: 390, height: 844 } })).newPage();

  step("a visitor on a phone opens the widget in Chinese");
  await ui.openWidget(phone, `${ui.demoUrl(config)}&lang=zh`, config);
  const input = phone.locator(tid("edgedesk-input"));

  await phone.screenshot({ path: join(config.outDir, "widget-phone-zh.png") });

  step("the textarea is at least 16 px");
  const size = await input.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  assert.ok(size >= 16, `the widget's textarea is ${size}px; mobile Safari zooms into fields under 16px`);

  step("every string the panel shows is Chinese");
  const panel = phone.locator(tid("edgedesk-panel"));
  const texts = await panel.evaluate((el) => {
    const out = [];
    const walk = (node) => {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) out.push(node.textContent.trim());
      if (node.nodeType === Node.ELEMENT_NODE) {
        for (const a of ["aria-label", "title", "placeholder"]) if (node.getAttribute(a)) out.push(node.getAttribute(a));
      }
      node.childNodes.forEach(walk);
    };
    walk(el);
    return out;
  });
  // Latin words other than the product's name are English left untranslated.
  const english = texts.filter((t) => /[A-Za-z]{2,}/.test(t.replace(/edgedesk/g, "")));
  assert.deepEqual(english, [], `English in the Chinese widget: ${JSON.stringify(english)}`);
  assert.ok(texts.some((t) => /提供技术支持/.test(t)), `the footer in Chinese: ${JSON.stringify(texts)}`);

  step("the font stack names common Linux CJK fonts");
  const family = await input.evaluate((el) => getComputedStyle(el.closest(".ed") ?? el).fontFamily);
  for (const font of ["Noto Sans CJK SC", "WenQuanYi Micro Hei"]) {
    assert.ok(family.includes(font), `${font} missing from the widget's fonts: ${family}`);
  }

  step("Escape closes the panel and puts the focus back on the launcher");
  await input.focus();
  await phone.keyboard.press("Escape");
  await waitFor(panel, "the panel closed by Escape", "hidden");
  const focused = await phone.locator(tid("edgedesk-launcher")).evaluate((el) => el.getRootNode().activeElement === el);
  assert.ok(focused, "the launcher has the focus after Escape");
});
