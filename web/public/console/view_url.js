// @ts-check
// The console's view (the open conversation and the list's filters) in the address bar's
// query, so a reload, a shared link and back/forward show the same view. The token never goes
// here (it arrives in the fragment and is removed at once, see readHash in console.js).

/**
 * @typedef {{conversation: string | null, status: string, assignee: string, unread: boolean, sort: string}} View
 */

const STATUSES = ["", "open", "pending", "snoozed", "resolved"];
const ASSIGNEES = ["all", "me", "unassigned"];
const SORTS = ["priority", "waiting", "activity"];
// PROTOCOL.md §3: 1 to 64 bytes of ASCII letters, digits and . _ - : @
const ID = /^[A-Za-z0-9._:@-]{1,64}$/;

/** @type {View} */
export const DEFAULT_VIEW = Object.freeze({ conversation: null, status: "", assignee: "all", unread: false, sort: "priority" });

/**
 * The view a query string names; anything unknown or malformed is the default, so an
 * edited or stale link still opens the console.
 * @param {string} search `location.search`
 * @returns {View}
 */
export function parseView(search) {
  const p = new URLSearchParams(search);
  const pick = (name, allowed, fallback) => {
    const v = p.get(name);
    return v !== null && allowed.includes(v) ? v : fallback;
  };
  const c = p.get("c");
  return {
    conversation: c !== null && ID.test(c) ? c : null,
    status: pick("status", STATUSES, DEFAULT_VIEW.status),
    assignee: pick("assignee", ASSIGNEES, DEFAULT_VIEW.assignee),
    unread: p.get("unread") === "1",
    sort: pick("sort", SORTS, DEFAULT_VIEW.sort),
  };
}

/**
 * The query string of `view` ("" for the default view): only what differs from the default.
 * @param {View} view
 */
export function formatView(view) {
  const p = new URLSearchParams();
  if (view.conversation) p.set("c", view.conversation);
  if (view.status !== DEFAULT_VIEW.status) p.set("status", view.status);
  if (view.assignee !== DEFAULT_VIEW.assignee) p.set("assignee", view.assignee);
  if (view.unread) p.set("unread", "1");
  if (view.sort !== DEFAULT_VIEW.sort) p.set("sort", view.sort);
  const q = p.toString();
  return q ? `?${q}` : "";
}
