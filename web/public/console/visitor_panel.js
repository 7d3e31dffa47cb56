// @ts-check
// The visitor panel (issue 16): who the agent is talking to, from the conversation's summary
// (name, language, VIP, channel, the page the chat started on and its referrer, the custom
// attributes of the visitor's token), and the visitor's earlier conversations, from the
// inbox (`visitor=` in the list query, PROTOCOL.md §15). The labels are translated; the
// values are the visitor's data (marked data-user-content), never translated.
import { has, locale, t } from "./i18n.js";

/** Labels (i18n.js keys) of the attributes the widget sets; any other is shown by its name. */
const KNOWN = { page_url: "facts.page", referrer: "facts.referrer" };

/**
 * A label and its value. Data (the visitor's, the site's words) is marked as such: a value
 * unless it is one of ours (VIP yes/no, a known channel), a label if it is an attribute's name.
 */
function row(dl, label, value, testid, { labelIsData = false, valueIsData = true } = {}) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  dt.toggleAttribute("data-user-content", labelIsData);
  const dd = document.createElement("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = value;
  if (testid) dd.dataset.testid = testid;
  dd.toggleAttribute("data-user-content", valueIsData);
  dl.append(dt, dd);
}

function link(url) {
  const safe = /^https?:\/\//i.test(url);
  if (!safe) return url;
  const a = document.createElement("a");
  a.href = url;
  a.textContent = url.replace(/^https?:\/\//i, "");
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

/**
 * Fills `dl` with what the summary knows of the visitor.
 * @param {HTMLElement} dl
 * @param {any} s a Summary (or null before the inbox has one)
 */
export function renderFacts(dl, s) {
  dl.replaceChildren();
  if (!s) return;
  const channel = s.channel || "web";
  row(dl, t("facts.name"), s.visitor_name || "—", "console-visitor-name");
  row(dl, t("facts.language"), s.language || "—", "console-visitor-language");
  row(dl, t("facts.vip"), t(s.vip ? "facts.yes" : "facts.no"), "console-visitor-vip", { valueIsData: false });
  const known = has(`channel.${channel}`);
  row(dl, t("facts.channel"), known ? t(`channel.${channel}`) : channel, "console-visitor-channel", { valueIsData: !known });
  const attrs = s.attributes || {};
  for (const key of ["page_url", "referrer"]) {
    if (attrs[key]) row(dl, t(KNOWN[key]), link(attrs[key]), `console-visitor-${key}`);
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (!(key in KNOWN)) row(dl, key, String(value), "console-visitor-attribute", { labelIsData: true });
  }
}

/**
 * Lists the visitor's other conversations, newest first.
 * @param {HTMLElement} list
 * @param {any[]} summaries
 * @param {string} current
 * @param {(conversation: string) => void} open
 */
export function renderEarlier(list, summaries, current, open) {
  const others = summaries.filter((s) => s.conversation !== current);
  if (!others.length) {
    const li = document.createElement("li");
    li.className = "earlier-none";
    li.textContent = t("facts.none");
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(
    ...others.map((s) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "earlier-item";
      b.dataset.testid = "console-earlier-item";
      b.dataset.id = s.conversation;
      b.toggleAttribute("data-user-content", true); // the preview
      const when = s.last_message_at ? new Date(s.last_message_at).toLocaleDateString(locale()) : "";
      b.textContent = `${when} · ${t(`status.${s.status || "open"}`)} · ${s.last_preview || "—"}`;
      b.addEventListener("click", () => open(s.conversation));
      li.append(b);
      return li;
    }),
  );
}
