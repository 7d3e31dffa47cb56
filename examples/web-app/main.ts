// A tiny app on the browser SDK: a visitor's chat on a site (anonymous widget session) and an
// agent's inbox. Not run by the tests; `tsc` type-checks it against the SDK's declarations
// (scripts/test.sh), so a change in the SDK's types that would break an app breaks the build.

import init, {
  ChatClient,
  InboxClient,
  newDeviceId,
  widgetSession,
  type ChatMessage,
} from "@edgedesk/client";

const baseUrl = "https://relay.example.com";

/// One line per message: author, time, body and, on own messages, the ticks.
function line(m: ChatMessage): string {
  const time = new Date(m.sentAt).toLocaleTimeString();
  const ticks = !m.own ? "" : m.readBy.length > 0 ? " ✓✓" : m.deliveredAt !== null ? " ✓" : " 🕓";
  const who = m.kind === "auto_reply" ? `${m.author.name} (automatic)` : m.author.name;
  return `[${time}] ${who} (${m.author.role}): ${m.body}${ticks}`;
}

function render(list: HTMLElement, messages: ChatMessage[]): void {
  list.replaceChildren(
    ...messages.map((m) => {
      const li = document.createElement("li");
      li.textContent = line(m);
      li.dataset.id = m.id;
      li.dataset.kind = m.kind;
      return li;
    }),
  );
}

/// A visitor: an anonymous session from the site key, kept across reloads.
export async function visitorChat(siteKey: string, list: HTMLElement): Promise<ChatClient> {
  await init();
  const previous = localStorage.getItem("chat:token") ?? undefined;
  const session = await widgetSession(baseUrl, siteKey, previous);
  localStorage.setItem("chat:token", session.token);
  const device = localStorage.getItem("chat:device") ?? newDeviceId();
  localStorage.setItem("chat:device", device);
  const expiresInMs: number = session.expiresAt * 1000 - Date.now();
  console.log(`session for ${session.subject} valid ${Math.round(expiresInMs / 60000)} min`);

  const client = await ChatClient.open({
    baseUrl,
    workspace: session.workspace,
    conversation: session.conversation,
    token: session.token,
    identity: { role: "visitor", participant: session.subject, name: "Ada", device },
  });
  client.on("change", () => render(list, client.messages()));
  client.on("message", (m: ChatMessage) => {
    if (!m.own && document.visibilityState === "visible") void client.markRead(m.id);
  });
  const stopTyping = client.on("typing", (t) => {
    list.dataset.typing = t.typing && t.role !== "visitor" ? t.participant : "";
  });
  client.on("connection", (c) => {
    list.dataset.connection = c.state;
    if (c.state === "offline") console.log(`offline (${c.code ?? "-"} ${c.reason ?? ""})`);
  });
  client.on("authRefused", async (refusal) => {
    console.warn(`token refused: ${refusal.status} ${refusal.code}: ${refusal.message}`);
    const renewed = await widgetSession(baseUrl, siteKey);
    client.setToken(renewed.token);
  });
  client.on("error", (e) => console.error(e.message));

  const sent: ChatMessage = await client.sendText("Hello, where is my order?");
  console.log(sent.id, client.pending().includes(sent.id), client.connectionState(), client.inSync());
  client.setTyping(false);
  const { state, snoozedUntil } = client.status();
  if (state === "resolved" && client.rating() === null) await client.rate(5, "Quick and kind");
  console.log(state, snoozedUntil);
  window.addEventListener("pagehide", () => {
    stopTyping();
    void client.close();
  });
  return client;
}

/// An agent: the inbox's open conversations, the first one opened with its case data.
export async function agentDesk(workspace: string, token: string, list: HTMLElement): Promise<void> {
  await init();
  const device = newDeviceId();
  const inbox = await InboxClient.open({ baseUrl, workspace, token, device });
  inbox.on("summary", (s) => console.log(`${s.conversation}: ${s.unread} unread, ${s.last_preview ?? ""}`));
  inbox.on("removed", (id) => console.log(`${id} erased`));
  const page = await inbox.query({ status: "open", sort: "waiting", limit: 25 });
  const first = page.items[0];
  if (first === undefined) return;
  console.log(page.nextCursor ?? "last page", first.tags.join(", "), first.priority);
  await inbox.claim(first.conversation);

  const chat = await ChatClient.open({
    baseUrl,
    workspace,
    conversation: first.conversation,
    token,
    identity: { role: "agent", participant: "agent-7", name: "Grace", device },
  });
  chat.on("change", () => {
    render(list, chat.messages());
    const internal = chat.internal();
    if (internal !== null) {
      list.title = `${internal.tags.join(", ")} · ${internal.assignee ?? "unassigned"} · ${internal.notes.length} notes`;
      for (const note of internal.notes) console.log(line(note));
    }
  });
  await chat.addTag("shipping");
  await chat.addNote("Carrier confirmed delivery for tomorrow.");
  await chat.setStatus("pending");
  await chat.markRead();
  inbox.setPresence("away");
  inbox.close();
}
