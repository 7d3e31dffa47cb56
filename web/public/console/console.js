// @ts-check
// edgedesk agent console: plain ES modules, no build step, on the browser SDK the relay
// serves (/sdk/edgedesk.js). One InboxClient for the conversation list; one ChatClient for the
// conversation on screen (the previous one is closed when another is opened).
// The token stays in localStorage (this browser, every tab) until sign-out; message bodies and
// tokens are never logged. The view (open conversation, filters) is in the URL (view_url.js).
import init, { ChatClient, InboxClient, newDeviceId } from "/sdk/edgedesk.js";
import { compareSummaries } from "./order.js";
import { formatView, parseView } from "./view_url.js";
import { passwordSignIn, refreshDelay, refreshSession, revokeSession, withRefreshLock } from "./session.js";
import { openAgents } from "./agents.js";
import { askDesktopPermission, installShortcuts, loadPrefs, savePrefs, SHORTCUTS, signalNewWork } from "./comfort.js";
import { installEmojiPicker } from "./emoji.js";
import { renderEarlier, renderFacts } from "./visitor_panel.js";
import { applyStatic, has, lang, locale, onLangChange, setLang, t } from "./i18n.js";
import { attachmentNode, pendingNode, releasePreviews } from "/attachments.js";

const BASE = location.origin;
const SESSION_KEY = "edgedesk:console:session";
const DEVICE_KEY = "edgedesk:console:device";
const TYPING_IDLE_MS = 3000;
const TYPING_RESEND_MS = 2500;
const TYPING_SHOW_MS = 6000;
const PAGE = 50;

// Canned replies are content, in the language the visitor reads: both sets are offered,
// the agent's own language first.
const CANNED = [
  { group: "composer.cannedEnglish", lang: "en", items: [
    ["Greeting", "Hi! Thanks for reaching out. How can I help you today?"],
    ["Please wait", "Thanks for your patience. Let me check that for you, one moment please."],
    ["Closing", "Is there anything else I can help you with? Have a great day!"],
  ] },
  { group: "composer.cannedChinese", lang: "zh", items: [
    ["问候", "您好！感谢您的咨询，请问有什么可以帮您？"],
    ["请稍候", "感谢您的耐心等待，我正在为您查询，请稍候。"],
    ["结束语", "请问还有其他可以帮您的吗？祝您生活愉快！"],
  ] },
];

/**
 * An element by id, typed as an input: the fields read through it are inputs, selects and
 * buttons (value, checked, disabled), and every other element uses only what HTMLElement has.
 * @param {string} id
 * @returns {HTMLInputElement}
 */
const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
/**
 * A form's field by name.
 * @param {HTMLFormElement} form
 * @param {string} name
 */
const field = (form, name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
/**
 * The element an event is about, as the control it is.
 * @param {Event} e
 */
const control = (e) => /** @type {HTMLInputElement} */ (e.target);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

/** The "Earlier messages" button, kept at the top of the message list (PROTOCOL.md §16). */
const EARLIER = /** @type {HTMLButtonElement} */ (document.getElementById("earlier-messages"));

const state = {
  workspace: "",
  token: "",
  session: null, // the stored session (session.js): token, and refresh token after a password sign-in
  refreshTimer: 0,
  me: null, // { sub, name, role }
  device: "",
  inbox: null,
  inboxOff: [],
  items: new Map(), // conversation -> Summary, what the list shows
  cursor: null,
  searching: false,
  selected: null, // conversation id
  target: null, // the conversation last asked for: the one on screen, or the one still opening
  client: null,
  clientOff: [],
  lastMarked: null,
  typers: new Map(),
  typingSentAt: 0,
  typingIdle: 0,
  opening: 0, // increments on each open, so a slow open that lost the race closes itself
  agentNames: new Map(), // participant -> display name, learned from what agents wrote
  prefs: loadPrefs(), // sound and desktop notifications on new work (comfort.js)
  assignees: new Map(), // conversation -> assignee in the newest summary seen
  // The sealed history shown above the live messages (PROTOCOL.md §16): oldest first, and
  // the cursor of the page before it (undefined: none loaded yet; null: the start).
  older: [],
  olderBefore: undefined,
  loadingOlder: false,
};

// ------------------------------------------------------------------ helpers
function errText(e) {
  if (!e) return t("error.generic");
  if (typeof e === "string") return e;
  // The relay explains refusals in English; known codes have the agent's language.
  if (e.code && has(`error.${e.code}`)) return t(`error.${e.code}`);
  if (e.message) return e.message;
  if (e.code) return e.code;
  return String(e);
}
function warn(where, e) {
  console.warn(`[edgedesk console] ${where}:`, errText(e)); // never a body or a token
}
function decodeJwt(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error(t("token.notJwt"));
  const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}
/** Marks `node` as showing people's data (names, messages, tags): never translated, and
 *  skipped by the check that the Chinese console shows no English (console_zh.mjs). */
function userContent(node) {
  node.toggleAttribute("data-user-content", true);
  return node;
}
function initials(name) {
  // Letters only: "Visitor 1408" is "V", "Ada Lovelace" "AL", "王小明" "王".
  const words = String(name || "?").trim().split(/[\s._-]+/).filter((w) => /^\p{L}/u.test(w));
  if (!words.length) return "?";
  const first = Array.from(words[0])[0];
  const second = words[1] && /^[A-Za-z]/.test(words[1]) ? words[1][0] : "";
  return (first + second).toUpperCase();
}
function hue(s) {
  let h = 2166136261; // FNV-1a: similar ids still get far-apart colours
  for (const c of String(s)) h = Math.imul(h ^ c.codePointAt(0), 16777619);
  return (h >>> 0) % 360;
}
function paintAvatar(node, name, seed) {
  node.textContent = initials(name);
  node.style.setProperty("--h", String(hue(seed || name)));
}
function ago(ms) {
  if (!ms) return "";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 45) return t("time.now");
  if (s < 3600) return t("time.minutes", { n: Math.round(s / 60) });
  if (s < 86400) return t("time.hours", { n: Math.round(s / 3600) });
  return new Date(ms).toLocaleDateString(locale(), { month: "short", day: "numeric" });
}
function clock(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const today = d.toDateString() === new Date().toDateString();
  return d.toLocaleString(locale(), today
    ? { hour: "2-digit", minute: "2-digit" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
function visitorName(s, conv) {
  return (s && s.visitor_name) || t("visitor.fallback", { id: String(conv).replace(/^c-/, "").slice(0, 6) });
}
function tickState(m) {
  return m.deliveredAt == null ? "pending" : m.readBy && m.readBy.length ? "read" : "delivered";
}
const TICKS = { pending: "🕓", delivered: "✓", read: "✓✓" };
/** A status or priority value (the protocol's) as the agent reads it. */
const statusName = (v) => t(`status.${v || "open"}`);
const priorityName = (v) => t(`priority.${v}`);
/** An agent's name for people: "You", its name in the directory or the name it signed its
 *  messages with, or its id. */
function agentName(id) {
  if (isMe(id)) return t("msg.you");
  return state.agentNames.get(id) || id;
}

/** Remembers the names agents signed messages and notes with; the list shows them. */
function learnNames(items) {
  let learned = false;
  for (const m of items || []) {
    const a = m && m.author;
    if (a && (a.role === "agent" || a.role === "admin") && a.name && state.agentNames.get(a.id) !== a.name) {
      state.agentNames.set(a.id, a.name);
      learned = true;
    }
  }
  if (learned) renderList();
}

/** The workspace's agents (PROTOCOL.md §2.9): names for colleagues who never wrote here. */
async function loadDirectory() {
  try {
    const url = `${BASE}/v1/workspaces/${encodeURIComponent(state.workspace)}/agents`;
    const r = await fetch(url, { headers: { authorization: `Bearer ${state.token}` } });
    if (!r.ok) return;
    const { agents } = await r.json();
    learnNames((agents || []).map((a) => ({ author: a })));
  } catch (e) {
    warn("directory", e);
  }
}

/** A short notice at the bottom of the screen (also read out by screen readers). */
let toastTimer = 0;
function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 8000);
}

function isMe(id) {
  return state.me && id === state.me.sub;
}
function safe(f, fallback) {
  try {
    return f();
  } catch (e) {
    warn("read", e);
    return fallback;
  }
}

// ------------------------------------------------------------------ sign in
function readHash() {
  if (!location.hash) return null;
  const p = new URLSearchParams(location.hash.slice(1));
  const workspace = p.get("workspace");
  const token = p.get("token");
  if (!workspace || !token) return null;
  // The token must not stay in the address bar or the history.
  history.replaceState(null, "", location.pathname + location.search);
  return { workspace, token };
}
function storedSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}
function showSignin(message) {
  $("app").hidden = true;
  $("signin").hidden = false;
  const err = $("signin-error");
  err.hidden = !message;
  err.textContent = message || "";
  if (state.workspace) {
    const form = /** @type {HTMLFormElement} */ (document.getElementById("signin-form"));
    field(form, "workspace").value = state.workspace;
  }
}

/** Checks the token's claims before using it, so a wrong token gets a clear message. */
function claimsOf(workspace, token) {
  let c;
  try {
    c = decodeJwt(token.trim());
  } catch (e) {
    throw new Error(t("token.unreadable", { why: errText(e) }));
  }
  if (!c || typeof c.sub !== "string") throw new Error(t("token.noSub"));
  if (c.role !== "agent" && c.role !== "admin") throw new Error(t("token.role", { role: c.role }));
  if (c.workspace && c.workspace !== workspace) {
    throw new Error(t("token.workspace", { token: c.workspace, workspace }));
  }
  if (c.conversation) throw new Error(t("token.conversation"));
  if (typeof c.exp === "number" && c.exp * 1000 < Date.now()) throw new Error(t("token.expired"));
  return { sub: c.sub, name: typeof c.name === "string" && c.name ? c.name : c.sub, role: c.role };
}

async function signIn(workspace, token, session = null) {
  workspace = workspace.trim();
  token = token.trim();
  const me = claimsOf(workspace, token);
  await sdkReady;
  state.session = session || { workspace, token };
  localStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  state.workspace = workspace;
  state.token = token;
  state.me = me;
  scheduleRefresh();
  try {
    await startConsole();
  } catch (e) {
    await stopInbox();
    throw e;
  }
}

/** A password session refreshes a minute before its access token expires. */
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  const delay = refreshDelay(state.session);
  if (delay === null) return;
  state.refreshTimer = window.setTimeout(() => refreshNow().catch((e) => warn("refresh", e)), delay);
}

/** Takes fresh tokens: from another tab that just refreshed, or from the relay. */
async function refreshNow() {
  await withRefreshLock(async () => {
    const stored = storedSession();
    if (!state.session) return;
    const fresh = (s) => s && s.token !== state.token && refreshDelay(s) !== null && refreshDelay(s) > 0;
    let next = stored;
    if (!fresh(stored)) {
      try {
        next = await refreshSession(BASE, stored && stored.refresh ? stored : state.session);
      } catch (e) {
        if (/** @type {any} */ (e).status === 401 || /** @type {any} */ (e).status === 403) {
          await signOut(t("session.ended", { why: errText(e) }));
          return;
        }
        throw e;
      }
      localStorage.setItem(SESSION_KEY, JSON.stringify(next));
    }
    adoptSession(next);
  });
}

/** Uses a refreshed session's token from now on (the open sockets reconnect with it). */
function adoptSession(next) {
  if (!state.session || !next || next.workspace !== state.workspace) return;
  state.session = next;
  state.token = next.token;
  safe(() => state.inbox && state.inbox.setToken(next.token));
  safe(() => state.client && state.client.setToken(next.token));
  scheduleRefresh();
}

async function stopInbox() {
  state.inboxOff.forEach((off) => off());
  state.inboxOff = [];
  if (state.inbox) safe(() => state.inbox.close());
  state.inbox = null;
}

async function signOut(message) {
  const ending = state.session;
  state.session = null;
  clearTimeout(state.refreshTimer);
  localStorage.removeItem(SESSION_KEY);
  // Revoked on the relay too: the refresh token no longer works anywhere.
  revokeSession(BASE, ending);
  await closeConversation();
  await stopInbox();
  state.items.clear();
  state.token = "";
  showSignin(message);
}

// ------------------------------------------------------------------ inbox
async function startConsole() {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("workspace-name").textContent = state.workspace;
  $("me-name").textContent = state.me.name;
  $("me-role").textContent = t(`role.${state.me.role}`);
  paintAvatar($("me-avatar"), state.me.name, state.me.sub);
  $("agents-open").hidden = state.me.role !== "admin";
  setConnection("connecting");

  await stopInbox();
  state.inbox = await InboxClient.open({
    baseUrl: BASE,
    workspace: state.workspace,
    token: state.token,
    device: state.device,
  });
  const inbox = state.inbox;
  state.inboxOff = [
    inbox.on("summary", onSummary),
    inbox.on("removed", onRemoved),
    inbox.on("connection", (c) => {
      const s = (c && c.state) || "connecting";
      setConnection(s);
      // After a reconnection changes may have been missed: list again.
      if (s === "connected") refresh();
    }),
    inbox.on("backlog", (list) => (Array.isArray(list) ? list : []).forEach(onSummary)),
    inbox.on("error", (e) => {
      if (e && e.code === "account_disabled") signOut(t("session.disabled"));
      else warn("inbox", e);
    }),
  ];
  if (typeof inbox.connectionState === "function") setConnection(safe(() => inbox.connectionState(), "connecting"));
  loadDirectory();
  await applyView(false);
  await refresh();
}

function setConnection(s) {
  const node = $("connection");
  node.dataset.state = s;
  node.textContent = t(s === "connected" ? "conn.connected" : s === "offline" ? "conn.offline" : "conn.connecting");
}

// ------------------------------------------------------------------ the view in the URL
/** The view on screen, as view_url.js writes it. */
function currentView() {
  return {
    conversation: state.selected,
    status: $("filter-status").value,
    assignee: $("filter-assignee").value,
    unread: $("filter-unread").checked,
    sort: $("sort").value,
  };
}

/** Writes the view into the address bar: a new history entry (`push`) or the current one. */
function saveView(push) {
  const url = location.pathname + formatView(currentView());
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

/**
 * Shows the view the address bar names (after sign-in, reload, back or forward).
 * @param {boolean} [refreshList] query the list again if its filters changed
 */
async function applyView(refreshList = true) {
  const v = parseView(location.search);
  const before = JSON.stringify(filters());
  $("filter-status").value = v.status;
  $("filter-assignee").value = v.assignee;
  $("filter-unread").checked = v.unread;
  $("sort").value = v.sort;
  if (refreshList && JSON.stringify(filters()) !== before) refresh();
  if (v.conversation && v.conversation !== state.selected) await openConversation(v.conversation, false);
  else if (!v.conversation && state.selected) await closeConversation();
}

function filters() {
  const status = $("filter-status").value;
  const assignee = $("filter-assignee").value;
  const unread = $("filter-unread").checked;
  const sort = $("sort").value;
  const q = { sort, limit: PAGE };
  if (status) q.status = status;
  if (assignee !== "all") q.assignee = assignee;
  if (unread) q.unread = true;
  return q;
}

function matches(s) {
  const f = filters();
  if (f.status && s.status !== f.status) return false;
  if (f.assignee === "me" && !isMe(s.assignee)) return false;
  if (f.assignee === "unassigned" && s.assignee) return false;
  if (f.unread && !(s.unread > 0)) return false;
  return true;
}

/** The list order of the sort the agent chose, as the server orders pages. */
const compare = (a, b) => compareSummaries($("sort").value, a, b);

let refreshSeq = 0;
async function refresh() {
  if (!state.inbox) return;
  const seq = ++refreshSeq;
  if (state.searching) return runSearch();
  try {
    const page = await state.inbox.query(filters());
    if (seq !== refreshSeq) return;
    state.items = new Map(page.items.map((s) => [s.conversation, s]));
    state.cursor = page.nextCursor || null;
    renderList();
  } catch (e) {
    warn("query", e);
  }
  refreshCounts();
}

async function loadMore() {
  if (!state.cursor || !state.inbox) return;
  try {
    const page = await state.inbox.query({ ...filters(), cursor: state.cursor });
    for (const s of page.items) state.items.set(s.conversation, s);
    state.cursor = page.nextCursor || null;
    renderList();
  } catch (e) {
    warn("query", e);
  }
}

let countsTimer = 0;
function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(async () => {
    if (!state.inbox) return;
    try {
      const c = await state.inbox.counts();
      const st = c.status || {};
      // New work shows in the tab's title, seen from any other tab.
      document.title = c.unread ? t("title.unread", { n: c.unread }) : t("title");
      const box = $("counts");
      box.replaceChildren(
        ...[
          ["counts.open", st.open || 0],
          ["counts.pending", st.pending || 0],
          ["counts.mine", c.mine || 0],
          ["counts.unassigned", c.unassigned || 0],
          ["counts.unread", c.unread || 0],
        ].map(([label, n]) => {
          const chip = el("span", "count");
          chip.append(el("b", null, String(n)), ` ${t(String(label))}`);
          return chip;
        }),
      );
    } catch (e) {
      warn("counts", e);
    }
  }, 250);
}

function onSummary(s) {
  if (!s || !s.conversation) return;
  // Someone took over a conversation this agent held: say so (issue 16).
  const before = state.assignees.get(s.conversation);
  state.assignees.set(s.conversation, s.assignee || null);
  if (before && isMe(before) && s.assignee && !isMe(s.assignee)) {
    toast(t("details.tookOver", { agent: agentName(s.assignee), visitor: visitorName(s, s.conversation) }));
  }
  noticeNewWork(state.items.get(s.conversation), s);
  if (state.searching) {
    const known = state.items.get(s.conversation);
    if (known) state.items.set(s.conversation, { ...known, ...s, _hit: known._hit });
  } else {
    const known = state.items.get(s.conversation);
    if (known && known.version > s.version) return;
    if (matches(s)) state.items.set(s.conversation, s);
    else state.items.delete(s.conversation);
  }
  renderList();
  if (s.conversation === state.selected) renderHeader();
  refreshCounts();
}

/** More unread in a conversation this agent should answer (theirs or nobody's), not the one
 *  they are looking at: a chime and a desktop notification, as they chose. */
function noticeNewWork(before, s) {
  if (!before || !(s.unread > (before.unread || 0))) return;
  if (s.assignee && !isMe(s.assignee)) return;
  if (s.conversation === state.selected && document.visibilityState === "visible" && document.hasFocus()) return;
  const preview = s.last_preview || "";
  signalNewWork(state.prefs, visitorName(s, s.conversation), preview, s.conversation, () => openConversation(s.conversation));
}

/** The conversation `step` rows after (1) or before (-1) the open one in the list. */
function stepConversation(step) {
  const rows = [...document.querySelectorAll("#list [data-id]")].map((r) => /** @type {HTMLElement} */ (r).dataset.id);
  if (!rows.length) return;
  // From the one asked for last: while it opens nothing is selected, and quick presses
  // would otherwise start again from the top of the list.
  const at = rows.indexOf(state.target || "");
  const next = at < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + step));
  // j and k leave the focus outside the reply box, so the next j or k moves on instead of
  // being typed; Alt+arrows pressed in the reply box keep it there.
  const inReply = document.activeElement === $("input");
  if (rows[next] && rows[next] !== state.target) openConversation(rows[next], true, inReply);
}

function onRemoved(id) {
  const conv = typeof id === "string" ? id : id && id.conversation;
  state.items.delete(conv);
  renderList();
  if (conv === state.selected) closeConversation();
  refreshCounts();
}

let searchTimer = 0;
function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    state.searching = $("search").value.trim().length > 0;
    if (state.searching) runSearch();
    else refresh();
  }, 250);
}

async function runSearch() {
  const q = $("search").value.trim();
  if (!q || !state.inbox) return;
  const seq = ++refreshSeq;
  try {
    const r = await state.inbox.search(q, 30);
    if (seq !== refreshSeq) return;
    const items = new Map();
    for (const hit of r.hits || []) {
      if (items.has(hit.conversation)) continue;
      const known = safe(() => state.inbox.summaries(), []).find?.((s) => s.conversation === hit.conversation);
      items.set(hit.conversation, {
        ...(known || { conversation: hit.conversation, status: "open", priority: "normal", unread: 0, tags: [] }),
        _hit: hit,
      });
    }
    state.items = items;
    state.cursor = null;
    renderList();
  } catch (e) {
    warn("search", e);
  }
}

function renderList() {
  const list = $("list");
  const items = [...state.items.values()];
  if (!state.searching) items.sort(compare);
  const rows = items.map(listRow);
  list.replaceChildren(...rows);
  $("list-empty").hidden = items.length > 0;
  $("list-empty").textContent = t(state.searching ? "list.noMatch" : "list.empty");
  $("more").hidden = !state.cursor || state.searching;
}

function listRow(s) {
  const li = el("li", "row");
  li.dataset.testid = "console-conversation";
  li.dataset.id = s.conversation;
  li.dataset.status = s.status;
  li.tabIndex = 0;
  // A selectable list: options of a listbox (a list item with a button role is no list item).
  li.setAttribute("role", "option");
  li.setAttribute("aria-selected", String(s.conversation === state.selected));
  if (s.conversation === state.selected) li.classList.add("selected");
  if (s.unread > 0) li.classList.add("has-unread");

  const avatar = el("span", "avatar");
  paintAvatar(avatar, visitorName(s, s.conversation), s.conversation);
  const body = el("div", "row-body");
  const top = el("div", "row-top");
  top.append(userContent(el("span", "row-name", visitorName(s, s.conversation))));
  if (s.vip) top.append(el("span", "vip", "VIP"));
  top.append(el("span", "row-time", ago(s.last_message_at || s.created_at)));
  const preview = el("div", "row-preview");
  if (s._hit && Array.isArray(s._hit.highlight)) {
    // Start shortly before the first match, so it is not cut off by the ellipsis.
    let before = true;
    for (const part of s._hit.highlight) {
      let text = part.text;
      if (before && !part.hit && text.length > 28) text = `…${text.slice(-24)}`;
      if (part.hit) before = false;
      preview.append(part.hit ? el("mark", null, text) : document.createTextNode(text));
    }
  } else if (s.last_preview) {
    // Who wrote it: the bot's auto-reply is marked as one, an agent's reply is prefixed.
    const by = s.last_preview_role;
    if (by === "server") preview.append(el("span", "row-by row-by-bot", t("list.autoReply")));
    else if (by === "agent" || by === "admin") preview.append(el("span", "row-by", "↩"));
    preview.dataset.by = by || "";
    preview.append(document.createTextNode(s.last_preview));
  } else {
    preview.textContent = t("list.noMessages");
  }
  if (s._hit || s.last_preview) userContent(preview);
  preview.dataset.testid = "console-preview";
  const meta = el("div", "row-meta");
  meta.append(el("span", `pill pill-${s.status}`, statusName(s.status)));
  if (s.priority && s.priority !== "normal") meta.append(el("span", `prio prio-${s.priority}`, priorityName(s.priority)));
  if (s.assignee) meta.append(userContent(el("span", "row-assignee", agentName(s.assignee))));
  for (const tag of (s.tags || []).slice(0, 2)) meta.append(userContent(el("span", "chip chip-sm", tag)));
  if (s.rating) {
    const r = el("span", `row-rating row-rating-${s.rating.score <= 2 ? "low" : "ok"}`, `★${s.rating.score}`);
    r.dataset.testid = "console-row-rating";
    r.dataset.score = String(s.rating.score);
    r.title = s.rating.comment ? `${s.rating.score}/5 — ${s.rating.comment}` : `${s.rating.score}/5`;
    meta.append(r);
  }
  if (s.unread > 0) {
    const u = el("span", "unread", s.unread > 99 ? "99+" : String(s.unread));
    u.dataset.testid = "console-unread";
    meta.append(u);
  }
  body.append(top, preview, meta);
  li.append(avatar, body);
  const open = () => openConversation(s.conversation);
  li.addEventListener("click", open);
  li.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      open();
    }
  });
  return li;
}

// ------------------------------------------------------------------ conversation
/** @param {boolean} [switching] another conversation is being opened (state.target is it) */
async function closeConversation(switching = false) {
  if (!switching) state.target = null;
  stopTyping();
  const c = state.client;
  state.client = null;
  state.clientOff.forEach((off) => off());
  state.clientOff = [];
  state.typers.forEach((t) => clearTimeout(t.timer));
  state.typers.clear();
  state.selected = null;
  $("app").classList.remove("has-conv", "show-details");
  msgNodes.clear();
  $("messages").replaceChildren();
  $("conv-main").hidden = true;
  $("details").hidden = true;
  $("conv-empty").hidden = false;
  if (c) await c.close().catch((e) => warn("close", e));
}

/**
 * Shows `conv`; `remember` adds it to the browser's history (false when the history is what
 * asked for it).
 * @param {string} conv
 * @param {boolean} [remember]
 * @param {boolean} [focusReply] put the focus in the reply box once it is open
 */
async function openConversation(conv, remember = true, focusReply = true) {
  if (conv === state.selected && state.client) return;
  const ticket = ++state.opening;
  state.target = conv;
  await closeConversation(true);
  if (ticket !== state.opening) return;
  state.selected = conv;
  if (remember) saveView(true);
  $("app").classList.add("has-conv");
  state.lastMarked = null;
  $("conv-empty").hidden = true;
  $("conv-main").hidden = false;
  $("details").hidden = false;
  $("detail-error").hidden = true;
  $("input").value = "";
  renderList();
  renderHeader();
  setConvConnection("connecting");
  let client;
  try {
    client = await ChatClient.open({
      baseUrl: BASE,
      workspace: state.workspace,
      conversation: conv,
      token: state.token,
      identity: { role: state.me.role, participant: state.me.sub, name: state.me.name, device: state.device },
    });
  } catch (e) {
    warn("open", e);
    showDetailError(t("conv.openFailed", { why: errText(e) }));
    return;
  }
  if (ticket !== state.opening) {
    await client.close().catch(() => {});
    return;
  }
  state.client = client;
  state.older = [];
  state.olderBefore = undefined;
  state.clientOff = [
    client.on("change", renderConversation),
    // The live messages were sealed: show the newest sealed page so nothing disappears.
    client.on("moved", () => {
      state.older = [];
      state.olderBefore = undefined;
      loadOlder();
    }),
    client.on("typing", onTyping),
    client.on("connection", (c) => setConvConnection((c && c.state) || "connecting")),
    client.on("authRefused", (r) => signOut(t("session.refused", { code: (r && r.code) || "refused" }))),
    client.on("error", (e) => warn("conversation", e)),
    client.on("uploadFailed", (f) => showDetailError(t("composer.fileNotSent", { name: f.name, why: f.message || f.code }))),
  ];
  setConvConnection(safe(() => client.connectionState(), "connecting"));
  renderConversation();
  scrollToEnd(true);
  if (safe(() => client.epoch, 0) > 0) loadOlder();
  $("send").disabled = !$("input").value.trim();
  if (focusReply) $("input").focus();
}

function setConvConnection(s) {
  const dot = $("conv-conn");
  dot.dataset.state = s;
  dot.title = t(s === "connected" ? "conv.live" : s === "offline" ? "conv.offline" : "conv.connecting");
}

function summaryOf(conv) {
  return state.items.get(conv) || safe(() => state.inbox.summaries(), []).find?.((s) => s.conversation === conv) || null;
}

function renderHeader() {
  const conv = state.selected;
  if (!conv) return;
  const s = summaryOf(conv);
  const name = visitorName(s, conv);
  $("conv-name").textContent = name;
  paintAvatar($("conv-avatar"), name, conv);
  const bits = [conv];
  if (s && s.channel) bits.push(has(`channel.${s.channel}`) ? t(`channel.${s.channel}`) : s.channel);
  if (s && s.language) bits.push(s.language);
  if (s && s.team) bits.push(t("conv.team", { team: s.team }));
  $("conv-sub").textContent = bits.join(" · ");
  renderFacts($("visitor-facts"), s);
  loadEarlier(conv, s && s.visitor);
}

/** The visitor's earlier conversations, asked once per opened conversation. */
let earlierFor = "";
async function loadEarlier(conv, visitor) {
  const key = `${conv}|${visitor || ""}`;
  if (earlierFor === key || !state.inbox) return;
  earlierFor = key;
  const list = $("earlier");
  if (!visitor) return renderEarlier(list, [], conv, openConversation);
  try {
    const page = await state.inbox.query({ visitor, sort: "activity", limit: 10 });
    if (earlierFor === key) renderEarlier(list, page.items || [], conv, openConversation);
  } catch (e) {
    warn("earlier conversations", e);
  }
}

/** The page of sealed history before what is shown (PROTOCOL.md §16), prepended. */
async function loadOlder() {
  const client = state.client;
  if (!client || state.loadingOlder || state.olderBefore === null) return;
  state.loadingOlder = true;
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  try {
    const page = await client.history(state.olderBefore ?? null, 50);
    if (client !== state.client) return;
    state.older = [...page.messages, ...state.older];
    state.olderBefore = page.before;
    renderConversation();
    box.scrollTop = box.scrollHeight - fromBottom; // keep what the agent was reading in place
  } catch (e) {
    warn("history", e);
    showDetailError(t("conv.historyFailed", { why: errText(e) }));
  } finally {
    state.loadingOlder = false;
    renderEarlierButton();
  }
}

function renderEarlierButton() {
  const client = state.client;
  const more = !!client && safe(() => client.epoch, 0) > 0 && state.olderBefore !== null;
  EARLIER.hidden = !more;
  EARLIER.disabled = state.loadingOlder;
}

function renderConversation() {
  const client = state.client;
  if (!client) return;
  renderEarlierButton();
  const live = safe(() => client.messages(), []);
  const msgs = state.older.length ? [...state.older, ...live] : live;
  learnNames(msgs);
  learnNames(safe(() => client.internal(), null)?.notes);
  renderMessages(msgs);
  renderUploads();
  const status = safe(() => client.status(), { state: "open" }) || { state: "open" };
  const pill = $("conv-status");
  pill.textContent = statusName(status.state);
  pill.className = `pill pill-${status.state}`;
  if (document.activeElement !== $("status")) $("status").value = status.state;
  renderRating(safe(() => client.rating(), null));
  renderInternal();
  renderTyping();
  markRead(msgs);
  if (pinned) scrollToEnd();
}

/**
 * The visitor's satisfaction rating, once given: stars, the score and the comment.
 * @param {{score: number, comment: string | null} | null} rating
 */
function renderRating(rating) {
  const box = $("rating");
  if (!rating) {
    box.textContent = "—";
    delete box.dataset.score;
    return;
  }
  const stars = "★".repeat(rating.score) + "☆".repeat(5 - rating.score);
  box.textContent = `${stars} ${rating.score}/5${rating.comment ? ` — ${rating.comment}` : ""}`;
  box.dataset.score = String(rating.score);
}

const msgNodes = new Map();
function renderMessages(msgs) {
  const box = $("messages");
  const head = EARLIER;
  if (head.parentNode !== box) box.prepend(head);
  const keep = new Set();
  let prev = null;
  let prevKey = null;
  if (!msgs.length) {
    if (!box.querySelector(".messages-empty")) box.replaceChildren(head, el("div", "messages-empty", t("conv.noMessages")));
    msgNodes.clear();
    return;
  }
  box.querySelector(".messages-empty")?.remove();
  for (const m of msgs) {
    keep.add(m.id);
    let node = msgNodes.get(m.id);
    if (!node) {
      node = messageNode(m);
      msgNodes.set(m.id, node);
    }
    const key = `${m.kind}:${m.author && m.author.id}`;
    node.classList.toggle("cont", key === prevKey && m.kind === "text");
    prevKey = key;
    const st = tickState(m);
    if (node.dataset.state !== st) {
      node.dataset.state = st;
      const ticks = node.querySelector(".ticks");
      if (ticks) {
        ticks.textContent = TICKS[st];
        ticks.title = t(`tick.${st}`);
        ticks.className = `ticks ${st}`;
      }
    }
    if (prev ? prev.nextSibling !== node : head.nextSibling !== node) {
      if (prev) prev.after(node);
      else head.after(node);
    }
    prev = node;
  }
  for (const [id, node] of msgNodes) {
    if (!keep.has(id)) {
      node.remove();
      msgNodes.delete(id);
    }
  }
}

const uploadNodes = new Map(); // upload id -> element
/** Files this device is still uploading, after the messages. */
function renderUploads() {
  const box = $("messages");
  const waiting = safe(() => state.client.pendingUploads(), []) || [];
  const ids = new Set(waiting.map((u) => u.id));
  for (const [id, node] of uploadNodes) {
    if (!ids.has(id)) {
      node.remove();
      uploadNodes.delete(id);
    }
  }
  for (const u of waiting) {
    let node = uploadNodes.get(u.id);
    if (!node) {
      node = el("div", "msg staff own");
      const bubble = el("div", "bubble bubble-att");
      bubble.append(pendingNode(u, "console", t("composer.sending")));
      node.append(bubble);
      uploadNodes.set(u.id, node);
    }
    box.append(node);
  }
  releasePreviews(ids);
}

function messageNode(m) {
  const role = m.author ? m.author.role : "";
  const staff = role === "agent" || role === "admin" || role === "server" || m.kind === "auto_reply";
  const center = m.kind === "system" || m.kind === "event";
  const node = el("div", `msg ${center ? "center" : staff ? "staff" : "visitor"} kind-${m.kind}${m.own ? " own" : ""}`);
  node.dataset.testid = "console-message";
  node.dataset.id = m.id;
  node.dataset.kind = m.kind;
  node.dataset.own = String(!!m.own);
  if (center) {
    node.append(el("div", "sys", m.body));
    return node;
  }
  const who = el("div", "who");
  if (m.kind === "auto_reply") who.append(el("span", "auto-label", t("msg.autoReply")));
  else who.textContent = m.own ? t("msg.you") : (m.author && m.author.name) || (m.author && m.author.id) || "";
  const bubble = el("div", "bubble", m.body);
  if (m.attachment && state.client) {
    bubble.classList.add("bubble-att");
    bubble.append(attachmentNode(state.client, m.attachment, "console"));
  }
  const meta = el("div", "meta");
  const time = el("time", null, clock(m.sentAt));
  meta.append(time);
  if (m.own) {
    const ticks = el("span", "ticks");
    ticks.dataset.testid = "console-ticks";
    meta.append(ticks);
  }
  node.append(who, bubble, meta);
  return node;
}

function renderInternal() {
  const internal = safe(() => state.client.internal(), null);
  const s = summaryOf(state.selected);
  const assignee = internal ? internal.assignee : s ? s.assignee : null;
  const a = $("assignee");
  a.textContent = assignee ? (isMe(assignee) ? t("details.you", { name: state.me.name }) : agentName(assignee)) : t("details.unassigned");
  a.dataset.assignee = assignee || "";
  a.toggleAttribute("data-user-content", !!assignee);
  a.classList.toggle("none", !assignee);
  const claim = $("claim");
  claim.hidden = isMe(assignee);
  claim.textContent = t(assignee ? "details.takeOver" : "details.claim");

  const priority = internal ? internal.priority : s ? s.priority : null;
  if (document.activeElement !== $("priority")) $("priority").value = priority || "";

  const tags = internal ? internal.tags : s ? s.tags || [] : [];
  $("tags").replaceChildren(
    ...(tags.length
      ? [...tags].sort().map((tag) => {
          const chip = userContent(el("span", "chip"));
          chip.dataset.testid = "console-tag";
          chip.dataset.tag = tag;
          chip.append(el("span", null, tag));
          const x = el("button", "chip-x", "×");
          x.type = "button";
          x.title = t("details.tagRemove", { tag });
          x.setAttribute("aria-label", t("details.tagRemoveLabel", { tag }));
          x.addEventListener("click", () => act(() => state.client.removeTag(tag)));
          chip.append(x);
          return chip;
        })
      : [el("span", "muted", t("details.noTags"))]),
  );

  const notes = internal ? internal.notes || [] : [];
  const box = $("notes");
  const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(
    ...(notes.length
      ? notes.map((n) => {
          const node = userContent(el("div", "note"));
          node.dataset.testid = "console-note";
          node.dataset.id = n.id;
          const head = el("div", "note-head");
          head.append(
            el("b", null, n.own ? t("msg.you") : (n.author && n.author.name) || (n.author && n.author.id) || ""),
            el("time", null, clock(n.sentAt)),
          );
          node.append(head, el("div", "note-body", n.body));
          return node;
        })
      : [el("p", "muted", t(internal ? "details.noNotes" : "details.loading"))]),
  );
  if (nearEnd) box.scrollTop = box.scrollHeight;
}

function renderTyping() {
  const who = [...state.typers.entries()].map(([participant, x]) => (x.role === "visitor" ? t("visitor.typing") : agentName(participant)));
  $("typing").hidden = who.length === 0;
  $("typing-text").textContent = t(who.length > 1 ? "typing.many" : "typing.one", { who: who.join(lang() === "zh" ? "、" : ", ") });
  if (pinned) scrollToEnd();
}

/** The visitor's typing, and other agents' (two agents should not answer at once). */
function onTyping(t) {
  if (!t || isMe(t.participant)) return;
  const known = state.typers.get(t.participant);
  if (known) clearTimeout(known.timer);
  if (t.typing) {
    const timer = setTimeout(() => {
      state.typers.delete(t.participant);
      renderTyping();
    }, TYPING_SHOW_MS);
    state.typers.set(t.participant, { timer, role: t.role });
  } else {
    state.typers.delete(t.participant);
  }
  renderTyping();
}

function markRead(msgs) {
  const client = state.client;
  if (!client || document.visibilityState !== "visible") return;
  const last = msgs[msgs.length - 1];
  if (!last || last.own || last.id === state.lastMarked) return;
  state.lastMarked = last.id;
  client.markRead(last.id).catch((e) => warn("markRead", e));
}

/** Stay at the newest message unless the agent scrolled up to read. */
let pinned = true;
function scrollToEnd(force) {
  if (force) pinned = true;
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

function showDetailError(text) {
  const e = $("detail-error");
  e.textContent = text;
  e.hidden = !text;
  if (text) setTimeout(() => { if (e.textContent === text) e.hidden = true; }, 6000);
}

async function act(f) {
  if (!state.client) return;
  try {
    await f();
  } catch (e) {
    warn("action", e);
    showDetailError(errText(e));
  }
}

// ------------------------------------------------------------------ composing
async function send() {
  const input = $("input");
  const body = input.value.trim();
  if (!body || !state.client) return;
  input.value = "";
  $("send").disabled = true;
  stopTyping();
  try {
    await state.client.sendText(body);
  } catch (e) {
    input.value = body;
    $("send").disabled = false;
    showDetailError(t("composer.notSent", { why: errText(e) }));
  }
  scrollToEnd(true);
}

/** A file from the picker: into the SDK's upload outbox, sent when online. */
async function sendFile(file) {
  if (!state.client) return;
  try {
    await state.client.sendAttachment(file, { name: file.name });
  } catch (e) {
    showDetailError(t("composer.notSent", { why: errText(e) }));
  }
  renderConversation();
  scrollToEnd(true);
}

function noteTyping() {
  const client = state.client;
  if (!client) return;
  if (!$("input").value.trim()) return stopTyping();
  const now = Date.now();
  if (now - state.typingSentAt > TYPING_RESEND_MS) {
    state.typingSentAt = now;
    safe(() => client.setTyping(true));
  }
  clearTimeout(state.typingIdle);
  state.typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingIdle);
  if (state.typingSentAt && state.client) safe(() => state.client.setTyping(false));
  state.typingSentAt = 0;
}

function validTag(t) {
  // PROTOCOL §8.6: 1..64 bytes, no control characters, no surrounding spaces.
  return t && new TextEncoder().encode(t).length <= 64 && !/[\u0000-\u001f\u007f]/.test(t);
}

// ------------------------------------------------------------------ language
function renderShortcuts() {
  $("shortcuts-list").replaceChildren(
    ...SHORTCUTS.flatMap(([keys, what]) => [el("dt", null, keys), el("dd", null, t(what))]),
  );
}

/** The canned replies, the set in the agent's language first. */
function renderCanned() {
  const canned = $("canned");
  canned.querySelectorAll("optgroup").forEach((g) => g.remove());
  for (const { group, lang: l, items } of [...CANNED].sort((a, b) => Number(b.lang === lang()) - Number(a.lang === lang()))) {
    const og = document.createElement("optgroup");
    og.label = t(group);
    og.lang = l === "zh" ? "zh-CN" : "en";
    for (const [label, text] of items) {
      const o = el("option", null, label);
      o.value = text;
      og.append(o);
    }
    canned.append(og);
  }
}

/** After a language switch: everything drawn with `t` is drawn again (index.html's static
 *  text was re-labelled by i18n.js already). */
function relabel() {
  renderShortcuts();
  renderCanned();
  setConnection($("connection").dataset.state || "connecting");
  if (state.me) $("me-role").textContent = t(`role.${state.me.role}`);
  if (state.inbox) {
    renderList();
    refreshCounts();
  }
  if (state.selected) {
    setConvConnection($("conv-conn").dataset.state || "connecting");
    earlierFor = ""; // the earlier conversations show statuses and dates: ask again
    renderHeader();
    // Message nodes are kept between renders; their labels ("You", ticks) are rebuilt.
    msgNodes.clear();
    $("messages").replaceChildren();
    renderConversation();
  }
}

// ------------------------------------------------------------------ wiring
function wire() {
  EARLIER.addEventListener("click", () => loadOlder());
  for (const node of document.querySelectorAll("select[data-lang-select]")) {
    node.addEventListener("change", (e) => setLang(control(e).value));
  }
  onLangChange(relabel);
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = /** @type {HTMLFormElement} */ (e.currentTarget);
    const btn = /** @type {HTMLButtonElement} */ (f.querySelector("button[type=submit]"));
    btn.disabled = true;
    try {
      const workspace = field(f, "workspace").value.trim();
      const token = field(f, "token").value.trim();
      if (token) {
        await signIn(workspace, token);
      } else {
        const email = field(f, "email").value.trim();
        const password = field(f, "password").value;
        if (!email || !password) throw new Error(t("signin.needCredentials"));
        await sdkReady;
        const session = await passwordSignIn(BASE, workspace, email, password);
        await signIn(workspace, session.token, session);
      }
      field(f, "token").value = "";
      field(f, "password").value = "";
    } catch (err) {
      showSignin(errText(err));
    } finally {
      btn.disabled = false;
    }
  });
  $("signout").addEventListener("click", () => signOut());
  installShortcuts({
    next: () => stepConversation(1),
    previous: () => stepConversation(-1),
    reply: () => state.selected && $("input").focus(), // shown before its client is open
    resolve: () => state.client && act(() => state.client.setStatus("resolved")),
    search: () => $("search").focus(),
    help: () => /** @type {HTMLDialogElement} */ (document.getElementById("shortcuts")).showModal(),
  });
  renderShortcuts();
  $("shortcuts-open").addEventListener("click", () => /** @type {HTMLDialogElement} */ (document.getElementById("shortcuts")).showModal());
  const sound = /** @type {HTMLInputElement} */ ($("pref-sound"));
  const desktop = /** @type {HTMLInputElement} */ ($("pref-desktop"));
  sound.checked = state.prefs.sound;
  desktop.checked = state.prefs.desktop && typeof Notification !== "undefined" && Notification.permission === "granted";
  sound.addEventListener("change", () => {
    state.prefs = { ...state.prefs, sound: sound.checked };
    savePrefs(state.prefs);
  });
  desktop.addEventListener("change", async () => {
    const on = desktop.checked && (await askDesktopPermission());
    if (desktop.checked && !on) toast(t("prefs.denied"));
    desktop.checked = on;
    state.prefs = { ...state.prefs, desktop: on };
    savePrefs(state.prefs);
  });
  installEmojiPicker(
    /** @type {HTMLButtonElement} */ (document.getElementById("emoji-open")),
    $("emoji-panel"),
    /** @type {HTMLTextAreaElement} */ (document.getElementById("input")),
  );
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", () => {
    const input = /** @type {HTMLInputElement} */ ($("file"));
    const file = input.files && input.files[0];
    input.value = "";
    if (file) sendFile(file);
  });
  $("agents-open").addEventListener("click", () =>
    openAgents({ base: BASE, workspace: state.workspace, token: () => state.token, me: state.me.sub }),
  );
  $("presence").addEventListener("change", (e) => {
    const select = control(e);
    const presence = select.value === "away" ? "away" : "online";
    safe(() => state.inbox && state.inbox.setPresence(presence));
    select.dataset.state = select.value;
  });
  for (const id of ["filter-status", "filter-assignee", "filter-unread", "sort"]) {
    $(id).addEventListener("change", () => {
      saveView(false);
      refresh();
    });
  }
  // A sign-in link opened in a tab that already shows the console changes only the
  // fragment: sign in from it as on a fresh load.
  window.addEventListener("hashchange", async () => {
    const link = readHash();
    if (!link) return;
    try {
      await signIn(link.workspace, link.token);
    } catch (e) {
      showSignin(errText(e));
    }
  });
  window.addEventListener("popstate", () => {
    if (state.inbox) applyView();
  });
  // Signed out in another tab: this one too.
  window.addEventListener("storage", (e) => {
    if (e.key !== SESSION_KEY || !state.token) return;
    if (e.newValue === null) signOut(t("session.otherTab"));
    else safe(() => adoptSession(JSON.parse(e.newValue)));
  });
  // Narrow screens show one pane at a time (console.css): back to the list, the case details.
  $("back").addEventListener("click", async () => {
    await closeConversation();
    saveView(true);
    renderList();
  });
  const showDetails = (shown) => {
    $("app").classList.toggle("show-details", shown);
    $("details-toggle").setAttribute("aria-expanded", String(shown));
    if (shown) $("details-close").focus();
  };
  $("details-toggle").addEventListener("click", () => showDetails(!$("app").classList.contains("show-details")));
  $("details-close").addEventListener("click", () => {
    showDetails(false);
    $("details-toggle").focus();
  });
  $("search").addEventListener("input", onSearchInput);
  $("more").addEventListener("click", loadMore);

  const input = $("input");
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", () => {
    $("send").disabled = !input.value.trim() || !state.client;
    noteTyping();
  });

  const canned = $("canned");
  renderCanned();
  canned.addEventListener("change", () => {
    if (!canned.value) return;
    input.value = input.value.trim() ? `${input.value.trimEnd()} ${canned.value}` : canned.value;
    canned.value = "";
    input.dispatchEvent(new Event("input"));
    input.focus();
  });

  $("status").addEventListener("change", (e) => {
    const v = control(e).value;
    act(() => (v === "snoozed" ? state.client.setStatus(v, Date.now() + 3600_000) : state.client.setStatus(v)));
  });
  $("priority").addEventListener("change", (e) => {
    const v = control(e).value || null;
    act(() => state.client.setPriority(v));
  });
  $("claim").addEventListener("click", async () => {
    const conv = state.selected;
    if (!conv || !state.inbox) return;
    const internal = safe(() => state.client && state.client.internal(), null);
    const current = internal ? internal.assignee : summaryOf(conv)?.assignee;
    try {
      if (current && !isMe(current)) {
        // Taking over someone's conversation: ask first; they are told (see onSummary).
        if (!confirm(t("details.takeOverConfirm", { name: agentName(current) }))) return;
        await state.client.setAssignee(state.me.sub); // audited under this agent
      } else {
        const s = await state.inbox.claim(conv);
        if (s && s.conversation) onSummary(s);
      }
    } catch (e) {
      showDetailError(/\(taken\)/.test(errText(e)) ? t("details.taken") : errText(e));
    }
  });
  $("tag-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const tag = $("tag-input").value.trim();
    if (!validTag(tag)) {
      showDetailError(t("details.tagInvalid"));
      return;
    }
    $("tag-input").value = "";
    act(() => state.client.addTag(tag));
  });
  const noteInput = $("note-input");
  const addNote = () => {
    const body = noteInput.value.trim();
    if (!body) return;
    noteInput.value = "";
    act(async () => {
      try {
        await state.client.addNote(body);
      } catch (e) {
        noteInput.value = body;
        throw e;
      }
    });
  };
  $("note-form").addEventListener("submit", (e) => {
    e.preventDefault();
    addNote();
  });
  noteInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      addNote();
    }
  });
  const box = $("messages");
  box.addEventListener("scroll", () => {
    pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  });
  new ResizeObserver(() => {
    if (pinned) box.scrollTop = box.scrollHeight;
  }).observe(box);
  document.addEventListener("visibilitychange", () => {
    if (state.client) markRead(safe(() => state.client.messages(), []));
  });
  // Relative times in the list.
  setInterval(() => { if (state.items.size && !state.searching) renderList(); }, 60_000);
}

/** The SDK and this browser's device id, before anything talks to the relay. */
const sdkReady = (async () => {
  await init();
  let device = localStorage.getItem(DEVICE_KEY);
  if (!device) {
    device = newDeviceId();
    localStorage.setItem(DEVICE_KEY, device);
  }
  state.device = device;
})();
sdkReady.catch(() => {}); // reported by main

async function main() {
  applyStatic();
  wire();
  const fromHash = readHash();
  const stored = fromHash || storedSession();
  if (!stored) showSignin();
  try {
    await sdkReady;
  } catch (e) {
    showSignin(t("signin.sdkFailed", { why: errText(e) }));
    return;
  }
  if (!stored) return;
  state.workspace = stored.workspace;
  try {
    let session = stored;
    // A password session whose access token ran out while the console was closed.
    if (refreshDelay(stored) === 0) {
      session = await withRefreshLock(async () => {
        const now = storedSession();
        if (now && refreshDelay(now) !== 0) return now; // another tab just did it
        const next = await refreshSession(BASE, now || stored);
        localStorage.setItem(SESSION_KEY, JSON.stringify(next));
        return next;
      });
    }
    await signIn(session.workspace, session.token, session.refresh ? session : null);
  } catch (e) {
    localStorage.removeItem(SESSION_KEY);
    showSignin(errText(e));
  }
}

main();
