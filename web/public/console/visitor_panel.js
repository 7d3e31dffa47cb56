// @ts-check
// The visitor panel (issue 16): who the agent is talking to, from the conversation's summary
// (name, language, VIP, channel, the page the chat started on and its referrer, the custom
// attributes of the visitor's token), and the visitor's earlier conversations, from the
// inbox (`visitor=` in the list query, PROTOCOL.md §15).

/** Labels of the attributes the widget sets; any other attribute is shown by its name. */
const KNOWN = { page_url: "Page", referrer: "Came from" };

function row(dl, label, value, testid) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = value;
  if (testid) dd.dataset.testid = testid;
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
  row(dl, "Name", s.visitor_name || "—", "console-visitor-name");
  row(dl, "Language", s.language || "—", "console-visitor-language");
  row(dl, "VIP", s.vip ? "Yes ★" : "No", "console-visitor-vip");
  row(dl, "Channel", s.channel || "web", "console-visitor-channel");
  const attrs = s.attributes || {};
  for (const key of ["page_url", "referrer"]) {
    if (attrs[key]) row(dl, KNOWN[key], link(attrs[key]), `console-visitor-${key}`);
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (!(key in KNOWN)) row(dl, key, String(value), "console-visitor-attribute");
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
    li.textContent = "None";
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
      const when = s.last_message_at ? new Date(s.last_message_at).toLocaleDateString() : "";
      b.textContent = `${when} · ${s.status} · ${s.last_preview || "—"}`;
      b.addEventListener("click", () => open(s.conversation));
      li.append(b);
      return li;
    }),
  );
}
