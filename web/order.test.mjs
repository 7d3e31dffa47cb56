// node --test web/order.test.mjs: the console's live order equals the server's
// (core/src/inbox/query/sql.rs, Sort::order_by; core's priority_rank and NOT_WAITING).
import { test } from "node:test";
import assert from "node:assert/strict";
import { compareSummaries } from "./public/console/order.js";

const rows = [
  { conversation: "c-a", priority: "normal", waiting_since: null, last_message_at: 50 },
  { conversation: "c-b", priority: "urgent", waiting_since: 300, last_message_at: 10 },
  { conversation: "c-c", priority: "urgent", waiting_since: 100, last_message_at: 20 },
  { conversation: "c-d", priority: "low", waiting_since: 100, last_message_at: null },
  { conversation: "c-e", priority: "normal", waiting_since: null, last_message_at: 90 },
  { conversation: "c-f", priority: "high", waiting_since: null, last_message_at: null },
];
const order = (sort) => [...rows].sort((a, b) => compareSummaries(sort, a, b)).map((r) => r.conversation);

test("priority: rank descending, then the longest waiting, then the name (not activity)", () => {
  assert.deepEqual(order("priority"), ["c-c", "c-b", "c-f", "c-a", "c-e", "c-d"]);
});

test("waiting: the longest waiting first, nobody waiting last, ties by name (not activity)", () => {
  assert.deepEqual(order("waiting"), ["c-c", "c-d", "c-b", "c-a", "c-e", "c-f"]);
});

test("activity: the latest message first, none counts as 0 (not the creation time), then name", () => {
  assert.deepEqual(order("activity"), ["c-e", "c-a", "c-c", "c-b", "c-d", "c-f"]);
});
