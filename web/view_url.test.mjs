// node --test web/view_url.test.mjs: the console's view survives a round trip through the
// address bar, and a malformed link falls back to the default view instead of failing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_VIEW, formatView, parseView } from "./public/console/view_url.js";

test("a view round-trips through the query string", () => {
  const view = { conversation: "c-3f0c9a", status: "open", assignee: "me", unread: true, sort: "waiting" };
  const q = formatView(view);
  assert.equal(q, "?c=c-3f0c9a&status=open&assignee=me&unread=1&sort=waiting");
  assert.deepEqual(parseView(q), view);
});

test("the default view is an empty query, and an empty query the default view", () => {
  assert.equal(formatView(DEFAULT_VIEW), "");
  assert.deepEqual(parseView(""), DEFAULT_VIEW);
});

test("unknown values and malformed ids fall back to the default, field by field", () => {
  const v = parseView("?c=../../etc&status=closed&assignee=bob&unread=yes&sort=random");
  assert.deepEqual(v, DEFAULT_VIEW);
  assert.equal(parseView(`?c=${"x".repeat(65)}`).conversation, null, "ids are at most 64 bytes");
  assert.equal(parseView("?c=ws:c-1@x&status=resolved").status, "resolved");
  assert.equal(parseView("?c=ws:c-1@x").conversation, "ws:c-1@x");
});
