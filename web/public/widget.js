// @ts-check
// edgedesk visitor chat widget. One script tag on any page:
//
//   <script src="https://RELAY/widget.js" data-site-key="demo-site" async></script>
//
// Optional attributes: data-lang="zh" (Chinese labels), data-title, data-subtitle,
// data-color (accent, any CSS colour). The visitor's name is its token's (PROTOCOL.md §2.1):
// "Visitor" and a few characters of its id; the relay refuses messages under any other.
//
// Plain ES2020, no build step. It imports the browser SDK from the relay it was loaded from
// (`<origin>/sdk/edgedesk.js`), so the relay's origin is the base URL. Everything renders in
// an open shadow root, so the host page's CSS cannot reach it (nor ours the page).
// The visitor's session (token, conversation, device) lives in localStorage: a returning
// visitor keeps its conversation, and a still-valid stored token lets the widget open its
// local replica without any network, so messages written offline are sent later.
// Message bodies and tokens are never logged.
(() => {
  "use strict";
  /** The page's window, with the one global the widget defines. */
  const win = /** @type {Window & { EdgedeskWidget?: object }} */ (window);
  if (win.EdgedeskWidget) return; // loaded twice: keep the first

  const script = /** @type {HTMLScriptElement | null} */ (
    document.currentScript || document.querySelector("script[src*='widget.js'][data-site-key]")
  );
  if (!script) return;
  const BASE = new URL(script.src, location.href).origin;
  const SITE_KEY = script.dataset.siteKey || "";
  const LANG = (script.dataset.lang || "").toLowerCase().startsWith("zh") ? "zh" : "en";

  const DICT = {
    en: {
      earlier: "Earlier messages",
      title: "Chat with us",
      subtitle: "We usually reply in a few minutes",
      away: "We'll reply as soon as we can",
      // Outside business hours: "We'll reply tomorrow from 9:00".
      backAt: (day, time) => `We'll reply ${day} from ${time}`,
      today: "today",
      tomorrow: "tomorrow",
      onDay: (name) => `on ${name}`,
      placeholder: "Write a message…",
      send: "Send",
      attach: "Attach a file",
      sending: "Sending…",
      uploadFailed: (name, why) => `${name} was not sent: ${why}`,
      open: "Open chat",
      close: "Close chat",
      offline: "You're offline. Messages will be sent when you reconnect.",
      connecting: "Connecting…",
      online: "Online",
      autoReply: "Automatic reply",
      typing: "typing",
      agent: "Support",
      empty: "Hi there! Ask us anything, we're here to help.",
      csatQ: "How did we do?",
      csatHint: "Rate this conversation",
      thanks: "Thanks for your feedback!",
      pending: "Sending",
      delivered: "Delivered",
      read: "Read",
      unavailable: "Chat is unavailable right now.",
      you: "You",
      scores: ["Very poor", "Poor", "Okay", "Good", "Excellent"],
      // The footer, around the product's name.
      powered: ["Powered by ", ""],
    },
    zh: {
      earlier: "更早的消息",
      title: "在线客服",
      subtitle: "我们通常会在几分钟内回复",
      away: "我们会尽快回复您",
      backAt: (day, time) => `我们将在${day} ${time} 后回复`,
      today: "今天",
      tomorrow: "明天",
      onDay: (name) => name,
      placeholder: "输入消息…",
      send: "发送",
      attach: "发送文件",
      sending: "发送中…",
      uploadFailed: (name, why) => `${name} 未能发送：${why}`,
      open: "打开聊天",
      close: "关闭聊天",
      offline: "您已离线，消息将在恢复连接后发送。",
      connecting: "连接中…",
      online: "在线",
      autoReply: "自动回复",
      typing: "正在输入",
      agent: "客服",
      empty: "您好！有任何问题都可以问我们。",
      csatQ: "您对本次服务满意吗？",
      csatHint: "为本次对话评分",
      thanks: "感谢您的评价！",
      pending: "发送中",
      delivered: "已送达",
      read: "已读",
      unavailable: "聊天暂时不可用。",
      you: "我",
      scores: ["非常不满意", "不满意", "一般", "满意", "非常满意"],
      powered: ["由 ", " 提供技术支持"],
    },
  };
  const T = DICT[LANG];
  const TITLE = script.dataset.title || T.title;
  const SUBTITLE = script.dataset.subtitle || T.subtitle;
  const DEFAULT_ACCENT = "#4f46e5";
  /** data-color if it is a CSS colour, else the default: it never reaches markup as text. */
  const ACCENT = (() => {
    const c = script.dataset.color;
    return c && typeof CSS !== "undefined" && CSS.supports("color", c) ? c : DEFAULT_ACCENT;
  })();
  /** The name agents see: the relay's default for a token without a name (PROTOCOL.md §2.1). */
  const visitorName = (subject) => `Visitor ${String(subject).replace(/^v-/, "").slice(0, 4)}`;

  const STORE_KEY = `edgedesk:widget:${SITE_KEY}`;
  const SEEN_KEY = `${STORE_KEY}:seen`;
  /** Renew the token this long before it expires (it lasts a day by default). */
  const RENEW_MARGIN_MS = 10 * 60 * 1000;
  const TYPING_IDLE_MS = 3000;
  const TYPING_RESEND_MS = 2500;
  /** Hide someone's typing indicator if no refresh arrives (a lost "typing: false"). */
  const TYPING_SHOW_MS = 6000;

  // ---------------------------------------------------------------- state
  /** @type {typeof import("./sdk/edgedesk.js") | null} the imported module */
  let sdk = null;
  /** @type {typeof import("./attachments.js") | null} how files in the chat are shown */
  let attachments = null;
  /** @type {import("./sdk/edgedesk.js").ChatClient | null} */
  let client = null;
  let session = null; // the stored session
  let unsubscribe = [];
  let isOpen = false;
  let justRated = false;
  let typingSentAt = 0;
  let typingIdleTimer = 0;
  const typers = new Map(); // participant -> hide timer
  let renewTimer = 0;
  let lastMarked = null;
  let seenId = readSeen();

  let readyResolve;
  let readyReject;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  ready.catch(() => {}); // reported in the panel; a caller may still await it

  win.EdgedeskWidget = {
    ready,
    open: () => setOpen(true),
    close: () => setOpen(false),
    get conversation() {
      return session ? session.conversation : null;
    },
    // Whether the relay holds on disk everything this page wrote (messages, read marks,
    // rating): a page may wait for it before navigating away.
    get synced() {
      return client ? Boolean(safe(() => client.inSync())) : false;
    },
  };

  // ---------------------------------------------------------------- storage
  function loadSession() {
    try {
      const s = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      return s && typeof s.token === "string" && typeof s.conversation === "string" ? s : null;
    } catch {
      return null;
    }
  }
  function saveSession(s) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(s));
    } catch {
      /* private mode: the session lasts this page only */
    }
  }
  function readSeen() {
    try {
      return JSON.parse(localStorage.getItem(SEEN_KEY) || "null");
    } catch {
      return null;
    }
  }
  function writeSeen(conversation, id) {
    seenId = { conversation, id };
    try {
      localStorage.setItem(SEEN_KEY, JSON.stringify(seenId));
    } catch {
      /* ignore */
    }
  }
  /** `expiresAt` in ms whether the SDK hands seconds (as the HTTP answer has) or ms. */
  function expiryMs(s) {
    const e = Number(s && s.expiresAt);
    if (!Number.isFinite(e) || e <= 0) return 0;
    return e < 1e12 ? e * 1000 : e;
  }

  // ---------------------------------------------------------------- DOM
  const host = document.createElement("div");
  host.id = "edgedesk-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
<style>${css()}</style>
<div class="ed" lang="${LANG === "zh" ? "zh-CN" : "en"}">
  <section class="panel" data-testid="edgedesk-panel" role="dialog" aria-label="${esc(TITLE)}" hidden>
    <header class="head">
      <div class="avatar" aria-hidden="true">${icon("headset")}</div>
      <div class="head-text">
        <div class="title">${esc(TITLE)}</div>
        <div class="subtitle"><span class="dot"></span><span class="status-text" data-testid="edgedesk-availability">${esc(SUBTITLE)}</span></div>
      </div>
      <button class="icon-btn close" type="button" aria-label="${esc(T.close)}">${icon("chevron")}</button>
    </header>
    <div class="banner" data-testid="edgedesk-offline-banner" role="status" hidden>${icon("cloudOff")}<span>${esc(T.offline)}</span></div>
    <div class="messages" data-testid="edgedesk-messages" aria-live="polite">
      <button type="button" class="earlier" data-testid="edgedesk-earlier" hidden>${esc(T.earlier)}</button>
      <div class="empty">${esc(T.empty)}</div>
    </div>
    <div class="typing" data-testid="edgedesk-typing" hidden aria-label="${esc(T.typing)}">
      <span class="typing-bubble"><i></i><i></i><i></i></span><span class="typing-name"></span>
    </div>
    <div class="csat" data-testid="edgedesk-csat" hidden>
      <div class="csat-q">${esc(T.csatQ)}</div>
      <div class="csat-scores" role="group" aria-label="${esc(T.csatHint)}">
        ${[1, 2, 3, 4, 5]
          .map(
            (n) =>
              `<button type="button" class="csat-btn" data-score="${n}" data-testid="edgedesk-csat-${n}" title="${esc(
                T.scores[n - 1],
              )}" aria-label="${n} – ${esc(T.scores[n - 1])}">${["😞", "🙁", "😐", "🙂", "😍"][n - 1]}</button>`,
          )
          .join("")}
      </div>
    </div>
    <div class="csat-thanks" data-testid="edgedesk-csat-thanks" hidden>${icon("check")}<span>${esc(T.thanks)}</span></div>
    <form class="composer">
      <button type="button" class="attach" data-testid="edgedesk-attach" aria-label="${esc(T.attach)}" title="${esc(
        T.attach,
      )}">${icon("clip")}</button>
      <input type="file" data-testid="edgedesk-file" accept="image/*,application/pdf,text/plain" hidden>
      <textarea data-testid="edgedesk-input" rows="1" placeholder="${esc(T.placeholder)}" aria-label="${esc(
        T.placeholder,
      )}" maxlength="5000"></textarea>
      <button type="submit" class="send" data-testid="edgedesk-send" aria-label="${esc(T.send)}" disabled>${icon(
        "send",
      )}</button>
    </form>
    <div class="foot">${esc(T.powered[0])}<b>edgedesk</b>${esc(T.powered[1])}</div>
  </section>
  <button class="launcher" type="button" data-testid="edgedesk-launcher" aria-label="${esc(T.open)}" aria-expanded="false">
    <span class="ico-chat">${icon("chat")}</span><span class="ico-close">${icon("x")}</span>
    <span class="badge" data-testid="edgedesk-unread" hidden>0</span>
  </button>
</div>`;
  const $ = (sel) => root.querySelector(sel);
  $(".ed").style.setProperty("--accent", ACCENT);
  const panel = $(".panel");
  const launcher = $(".launcher");
  const badge = $(".badge");
  const banner = $(".banner");
  const list = $(".messages");
  const emptyNote = $(".empty");
  const earlierButton = $(".earlier");
  // The sealed history above the live messages (PROTOCOL.md §16): oldest first, and the
  // cursor of the page before it (undefined: none loaded yet; null: the start).
  let older = [];
  let olderBefore;
  let loadingOlder = false;
  const typingEl = $(".typing");
  const typingName = $(".typing-name");
  const csat = $(".csat");
  const thanks = $(".csat-thanks");
  const form = $(".composer");
  const input = $("textarea");
  const sendBtn = $(".send");
  const attachBtn = $(".attach");
  const fileInput = /** @type {HTMLInputElement} */ ($("input[type=file]"));
  const statusText = $(".status-text");
  const dot = $(".dot");

  function mount() {
    if (!host.isConnected) document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });

  launcher.addEventListener("click", () => setOpen(!isOpen));
  $(".close").addEventListener("click", () => setOpen(false));
  earlierButton.addEventListener("click", () => loadOlder());
  // Escape closes the open panel and gives the focus back to the launcher.
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && isOpen) {
      e.preventDefault();
      setOpen(false);
      launcher.focus();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  attachBtn.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) sendFile(file);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", () => {
    autosize();
    updateSendEnabled();
    noteTyping();
  });
  /** The rating buttons (1 to 5). */
  const csatButtons = () =>
    /** @type {NodeListOf<HTMLButtonElement>} */ (root.querySelectorAll(".csat-btn"));
  csatButtons().forEach((b) =>
    b.addEventListener("click", () => rate(Number(b.dataset.score))),
  );
  document.addEventListener("visibilitychange", () => maybeMarkRead());
  // Stay at the newest message while the visitor has not scrolled up, also when the typing
  // indicator, the banner or the rating panel take room from the list.
  let pinned = true;
  list.addEventListener("scroll", () => {
    pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  });
  new ResizeObserver(() => {
    if (pinned) list.scrollTop = list.scrollHeight;
  }).observe(list);
  window.addEventListener("online", () => {
    renderConnection();
    if (!client) start();
    else scheduleRenew();
  });
  window.addEventListener("offline", renderConnection);

  function setOpen(open) {
    isOpen = open;
    panel.hidden = !open;
    launcher.classList.toggle("is-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? T.close : T.open);
    if (open) {
      refreshAvailability();
      render();
      scrollToEnd(true);
      setTimeout(() => input.focus({ preventScroll: true }), 0);
    } else {
      stopTyping();
    }
    maybeMarkRead();
    renderBadge();
  }

  // ---------------------------------------------------------------- session + client
  async function loadSdk() {
    if (sdk) return sdk;
    const mod = await import(`${BASE}/sdk/edgedesk.js`);
    await mod.default();
    attachments = await import(`${BASE}/attachments.js`);
    sdk = mod;
    return sdk;
  }

  /** A URL without its query and fragment: those may hold the visitor's secrets. */
  function pageOnly(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? `${u.origin}${u.pathname}` : undefined;
    } catch {
      return undefined;
    }
  }

  async function fetchSession(previous) {
    const s = await sdk.widgetSession(
      BASE,
      SITE_KEY,
      previous ? previous.token : undefined,
      visitorLocale(),
      pageOnly(location.href),
      pageOnly(document.referrer),
    );
    const next = {
      token: s.token,
      workspace: s.workspace,
      conversation: s.conversation,
      subject: s.subject,
      expiresAt: s.expiresAt,
      device: previous && previous.device ? previous.device : sdk.newDeviceId(),
    };
    saveSession(next);
    return next;
  }

  // The visitor's language, for the relay's auto-replies: the browser's first preferred
  // language that is a plain language tag (PROTOCOL.md §2.5 refuses anything else), or
  // the widget's own language when the page asked for one with data-lang.
  function visitorLocale() {
    const tag = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;
    const preferred = [...(navigator.languages || []), navigator.language];
    const first = preferred.find((l) => typeof l === "string" && l.length <= 35 && tag.test(l));
    if (script.dataset.lang) return LANG === "zh" ? "zh-CN" : "en";
    return first;
  }

  let starting = false;
  async function start() {
    if (starting || client) return;
    starting = true;
    try {
      await loadSdk();
      let s = loadSession();
      const now = Date.now();
      const valid = s && expiryMs(s) > now;
      const dueForRenewal = !s || expiryMs(s) - now < RENEW_MARGIN_MS;
      if (dueForRenewal && navigator.onLine) {
        try {
          s = await fetchSession(s);
        } catch (e) {
          if (!valid) throw e; // nothing usable stored
        }
      } else if (!s) {
        // Offline and no session yet: wait for the `online` event (it calls start again).
        renderConnection();
        return;
      }
      // An expired token still opens the local replica offline; the relay refuses it once
      // online and `authRefused` renews it.
      session = s;
      await openClient(s);
      readyResolve();
    } catch (e) {
      statusText.textContent = T.unavailable;
      dot.dataset.state = "offline";
      readyReject(e instanceof Error ? e : new Error(String(e && e.message ? e.message : e)));
      reportError(e);
    } finally {
      starting = false;
    }
  }

  async function openClient(s) {
    client = await sdk.ChatClient.open({
      baseUrl: BASE,
      workspace: s.workspace,
      conversation: s.conversation,
      token: s.token,
      identity: { role: "visitor", participant: s.subject, name: visitorName(s.subject), device: s.device },
      online: navigator.onLine,
    });
    lastMarked = null;
    older = [];
    olderBefore = undefined;
    unsubscribe = [
      client.on("change", render),
      // What was live is sealed now: show its newest page so nothing disappears.
      client.on("moved", () => {
        older = [];
        olderBefore = undefined;
        loadOlder();
      }),
      client.on("message", onMessage),
      client.on("typing", onTyping),
      client.on("connection", renderConnection),
      client.on("authRefused", onAuthRefused),
      client.on("error", reportError),
      client.on("uploadFailed", onUploadFailed),
    ];
    updateSendEnabled();
    scheduleRenew();
    render();
    scrollToEnd(true);
    if ((safe(() => client.epoch) || 0) > 0) loadOlder();
  }

  /** The page of sealed history before what is shown, prepended where the visitor reads. */
  async function loadOlder() {
    const c = client;
    if (!c || loadingOlder || olderBefore === null) return;
    loadingOlder = true;
    renderEarlier();
    const fromBottom = list.scrollHeight - list.scrollTop;
    try {
      const page = await c.history(olderBefore ?? null, 50);
      if (c !== client) return;
      older = [...page.messages, ...older];
      olderBefore = page.before;
      render();
      list.scrollTop = list.scrollHeight - fromBottom;
    } catch (e) {
      reportError(e);
    } finally {
      loadingOlder = false;
      renderEarlier();
    }
  }

  function renderEarlier() {
    const more = !!client && (safe(() => client.epoch) || 0) > 0 && olderBefore !== null;
    earlierButton.hidden = !more;
    earlierButton.disabled = loadingOlder;
  }

  async function closeClient() {
    const c = client;
    client = null;
    unsubscribe.forEach((off) => {
      try {
        off();
      } catch {
        /* ignore */
      }
    });
    unsubscribe = [];
    if (c) await c.close().catch(() => {});
  }

  /** Gets a fresh token with the previous one, so the visitor keeps its conversation. */
  async function renew() {
    if (!navigator.onLine || !session) return;
    const previous = session;
    const next = await fetchSession(previous);
    session = next;
    if (client && next.conversation === previous.conversation) {
      client.setToken(next.token);
      scheduleRenew();
    } else {
      // The relay started a new conversation (the old token was no longer accepted).
      await closeClient();
      await openClient(next);
    }
  }

  function scheduleRenew() {
    clearTimeout(renewTimer);
    if (!session) return;
    const delay = Math.max(5000, expiryMs(session) - Date.now() - RENEW_MARGIN_MS);
    // setTimeout's limit is ~24.8 days; tokens are far shorter.
    renewTimer = setTimeout(
      () =>
        renew().catch((e) => {
          reportError(e);
          renewTimer = setTimeout(scheduleRenew, 60000); // try again in a minute
        }),
      Math.min(delay, 2 ** 31 - 1),
    );
  }

  let renewing = false;
  async function onAuthRefused() {
    if (renewing) return;
    renewing = true;
    try {
      await renew();
    } catch (e) {
      reportError(e);
    } finally {
      renewing = false;
    }
  }

  function reportError(e) {
    // The message only: never a body or a token.
    const message = e && e.message ? e.message : String(e);
    console.warn("[edgedesk widget]", message);
  }

  // ---------------------------------------------------------------- actions
  async function send() {
    const body = input.value.trim();
    if (!body || !client) return;
    input.value = "";
    autosize();
    updateSendEnabled();
    stopTyping();
    justRated = false;
    try {
      await client.sendText(body);
    } catch (e) {
      input.value = body; // keep what the visitor wrote
      updateSendEnabled();
      reportError(e);
    }
    scrollToEnd(true);
  }

  /** A file from the picker: into the SDK's outbox (IndexedDB), sent when online. */
  async function sendFile(file) {
    if (!client) return;
    justRated = false;
    try {
      await client.sendAttachment(file, { name: file.name });
    } catch (e) {
      showUploadFailed(file.name, e && e.message ? e.message : String(e));
    }
    render();
    scrollToEnd(true);
  }

  function onUploadFailed(f) {
    showUploadFailed((f && f.name) || "file", (f && f.message) || (f && f.code) || "refused");
  }

  function showUploadFailed(name, why) {
    const note = document.createElement("div");
    note.className = "upload-failed";
    note.dataset.testid = "edgedesk-upload-failed";
    note.setAttribute("role", "alert");
    note.textContent = T.uploadFailed(name, why);
    list.append(note);
    scrollToEnd(true);
  }

  function noteTyping() {
    if (!client) return;
    if (!input.value.trim()) {
      stopTyping();
      return;
    }
    const now = Date.now();
    if (now - typingSentAt > TYPING_RESEND_MS) {
      typingSentAt = now;
      safe(() => client.setTyping(true));
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingIdleTimer);
    if (typingSentAt && client) safe(() => client.setTyping(false));
    typingSentAt = 0;
  }

  async function rate(score) {
    if (!client) return;
    csatButtons().forEach((b) => (b.disabled = true));
    try {
      await client.rate(score);
      justRated = true;
    } catch (e) {
      reportError(e);
    } finally {
      csatButtons().forEach((b) => (b.disabled = false));
      render();
    }
  }

  function onMessage() {
    if (!isOpen || document.visibilityState !== "visible") chime();
  }

  function onTyping(t) {
    if (!t || t.role === "visitor") return;
    clearTimeout(typers.get(t.participant));
    if (t.typing) {
      typers.set(
        t.participant,
        setTimeout(() => {
          typers.delete(t.participant);
          renderTyping();
        }, TYPING_SHOW_MS),
      );
    } else {
      typers.delete(t.participant);
    }
    renderTyping();
    if (pinned) scrollToEnd(false);
  }

  function maybeMarkRead() {
    if (!client || !isOpen || document.visibilityState !== "visible") return;
    const msgs = safe(() => client.messages()) || [];
    const last = msgs[msgs.length - 1];
    if (!last) return;
    const unseen = countUnread(msgs) > 0;
    if (last.id !== lastMarked && (unseen || !last.own)) {
      lastMarked = last.id;
      client.markRead(last.id).catch(reportError);
    }
    writeSeen(session.conversation, last.id);
    renderBadge();
  }

  // ---------------------------------------------------------------- rendering
  const nodes = new Map(); // message id -> element

  function render() {
    if (!client) {
      renderConnection();
      return;
    }
    const msgs = safe(() => client.messages()) || [];
    renderEarlier();
    renderMessages(older.length ? [...older, ...msgs] : msgs);
    renderUploads();
    renderConnection();
    renderCsat();
    renderTyping();
    maybeMarkRead();
    renderBadge(msgs);
    if (pinned) scrollToEnd(false);
  }

  function renderMessages(msgs) {
    emptyNote.hidden = msgs.length > 0;
    const keep = new Set();
    let prev = emptyNote;
    let prevAuthor = null;
    for (const m of msgs) {
      keep.add(m.id);
      let el = nodes.get(m.id);
      if (!el) {
        el = messageNode(m);
        nodes.set(m.id, el);
      }
      updateMessageNode(el, m, prevAuthor);
      if (prev.nextSibling !== el) prev.after(el);
      prev = el;
      prevAuthor = m.kind === "text" ? `${m.own}:${m.author && m.author.id}` : m.kind;
    }
    for (const [id, el] of nodes) {
      if (!keep.has(id)) {
        el.remove();
        nodes.delete(id);
      }
    }
  }

  const uploadNodes = new Map(); // upload id -> element
  /** Files still in the outbox, after the messages, as the visitor's own. */
  function renderUploads() {
    const waiting = safe(() => client.pendingUploads()) || [];
    const ids = new Set(waiting.map((u) => u.id));
    for (const [id, el] of uploadNodes) {
      if (!ids.has(id)) {
        el.remove();
        uploadNodes.delete(id);
      }
    }
    for (const u of waiting) {
      let el = uploadNodes.get(u.id);
      if (!el && attachments) {
        el = document.createElement("div");
        el.className = "msg me";
        const bubble = document.createElement("div");
        bubble.className = "bubble bubble-att";
        bubble.append(attachments.pendingNode(u, "edgedesk", T.sending));
        el.append(bubble);
        uploadNodes.set(u.id, el);
      }
      if (el) list.append(el);
    }
    if (attachments) attachments.releasePreviews(ids);
  }

  function messageNode(m) {
    const el = document.createElement("div");
    el.dataset.testid = "edgedesk-message";
    el.dataset.id = m.id;
    el.dataset.kind = m.kind;
    el.dataset.own = String(!!m.own);
    const side = m.kind === "system" || m.kind === "event" ? "center" : m.own ? "me" : "them";
    el.className = `msg ${side} kind-${m.kind}`;
    if (side === "center") {
      const p = document.createElement("div");
      p.className = "sys";
      p.textContent = m.body;
      el.append(p);
      return el;
    }
    if (side === "them") {
      const who = document.createElement("div");
      who.className = "who";
      if (m.kind === "auto_reply") {
        const label = document.createElement("span");
        label.className = "auto-label";
        label.dataset.testid = "edgedesk-autoreply-label";
        label.innerHTML = icon("bolt");
        label.append(T.autoReply);
        who.append(label);
      } else {
        who.textContent = (m.author && m.author.name) || T.agent;
      }
      el.append(who);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = m.body;
    if (m.attachment && attachments && client) {
      bubble.classList.add("bubble-att");
      bubble.append(attachments.attachmentNode(client, m.attachment, "edgedesk"));
    }
    el.append(bubble);
    const meta = document.createElement("div");
    meta.className = "meta";
    const time = document.createElement("time");
    time.textContent = clock(m.sentAt);
    if (m.sentAt) time.dateTime = new Date(m.sentAt).toISOString();
    meta.append(time);
    if (m.own) {
      const ticks = document.createElement("span");
      ticks.className = "ticks";
      ticks.dataset.testid = "edgedesk-ticks";
      meta.append(ticks);
    }
    el.append(meta);
    return el;
  }

  function updateMessageNode(el, m, prevAuthor) {
    const key = m.kind === "text" ? `${m.own}:${m.author && m.author.id}` : m.kind;
    el.classList.toggle("cont", key === prevAuthor && m.kind === "text");
    const state = m.deliveredAt == null ? "pending" : m.readBy && m.readBy.length ? "read" : "delivered";
    if (el.dataset.state === state) return;
    el.dataset.state = state;
    const ticks = el.querySelector(".ticks"); // own messages only
    if (!ticks) return;
    ticks.textContent = state === "pending" ? "🕓" : state === "read" ? "✓✓" : "✓";
    ticks.title = T[state];
    ticks.className = `ticks ${state}`;
  }

  // ---------------------------------------------------------------- availability
  // What the header promises (PROTOCOL.md §2.8): "a few minutes" only within business hours
  // with an agent online; outside them, when the team is back. data-subtitle overrides it.
  /** @type {{open: boolean, agents_online: boolean, next_open: number | null} | null} */
  let availability = null;
  const AVAILABILITY_EVERY_MS = 5 * 60_000;
  async function refreshAvailability() {
    if (script.dataset.subtitle || !navigator.onLine) return;
    try {
      const res = await fetch(`${BASE}/v1/widget/availability?site_key=${encodeURIComponent(SITE_KEY)}`);
      if (!res.ok) return;
      availability = await res.json();
      renderConnection();
    } catch {
      /* keep the last answer */
    }
  }
  setInterval(() => {
    if (isOpen) refreshAvailability();
  }, AVAILABILITY_EVERY_MS);

  /** The header's promise, and which kind it is (open, away, closed). */
  function promise() {
    if (script.dataset.subtitle || !availability) return { text: SUBTITLE, kind: "" };
    if (availability.open) {
      return availability.agents_online ? { text: T.subtitle, kind: "open" } : { text: T.away, kind: "away" };
    }
    if (typeof availability.next_open !== "number") return { text: T.away, kind: "closed" };
    return { text: T.backAt(...whenParts(availability.next_open)), kind: "closed" };
  }

  /** "tomorrow" and "9:00" for an instant, in the visitor's own time zone. */
  function whenParts(ms) {
    const at = new Date(ms);
    const locale = LANG === "zh" ? "zh-CN" : undefined;
    const time = at.toLocaleTimeString(locale, { hour: "numeric", minute: "2-digit", hourCycle: "h23" });
    const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((midnight(at) - midnight(new Date())) / 86_400_000);
    if (days <= 0) return [T.today, time];
    if (days === 1) return [T.tomorrow, time];
    const name = at.toLocaleDateString(locale, days < 7 ? { weekday: "long" } : { month: "short", day: "numeric" });
    return [T.onDay(name), time];
  }

  function renderConnection() {
    const state = client ? safe(() => client.connectionState()) || "connecting" : navigator.onLine ? "connecting" : "offline";
    const offline = !navigator.onLine || state === "offline";
    banner.hidden = !offline;
    dot.dataset.state = offline ? "offline" : state;
    if (!starting || client) {
      const promised = promise();
      statusText.textContent = offline ? T.offline.split(/[.。]/)[0] : state === "connected" ? promised.text : T.connecting;
      statusText.dataset.availability = state === "connected" && !offline ? promised.kind : "";
    }
  }

  function renderCsat() {
    const status = safe(() => client.status()) || { state: "open" };
    const rating = safe(() => client.rating());
    const resolved = status.state === "resolved";
    csat.hidden = !(resolved && !rating);
    thanks.hidden = !(rating && (resolved || justRated));
  }

  function renderTyping() {
    const show = typers.size > 0;
    typingEl.hidden = !show;
    typingName.textContent = show ? `${T.agent} ${T.typing}…` : "";
  }

  function countUnread(msgs) {
    if (!session) return 0;
    let start = 0;
    if (seenId && seenId.conversation === session.conversation) {
      const i = msgs.findIndex((m) => m.id === seenId.id);
      if (i >= 0) start = i + 1;
    }
    let n = 0;
    for (let i = start; i < msgs.length; i++) {
      const m = msgs[i];
      if (!m.own && (m.kind === "text" || m.kind === "auto_reply")) n++;
    }
    return n;
  }

  function renderBadge(msgs) {
    const all = msgs || (client ? safe(() => client.messages()) || [] : []);
    const n = isOpen ? 0 : countUnread(all);
    badge.hidden = n === 0;
    badge.textContent = n > 9 ? "9+" : String(n);
  }

  function updateSendEnabled() {
    sendBtn.disabled = !client || !input.value.trim();
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  function scrollToEnd(force) {
    if (force) pinned = true;
    if (force || isOpen) list.scrollTop = list.scrollHeight;
  }

  function chime() {
    launcher.classList.remove("bump");
    void launcher.offsetWidth; // restart the animation
    launcher.classList.add("bump");
  }

  function clock(ms) {
    if (!ms) return "";
    const d = new Date(ms);
    const sameDay = d.toDateString() === new Date().toDateString();
    /** @type {Intl.DateTimeFormatOptions} */
    const opts = sameDay ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return d.toLocaleString(LANG === "zh" ? "zh-CN" : undefined, opts);
  }

  function safe(f) {
    try {
      return f();
    } catch (e) {
      reportError(e);
      return undefined;
    }
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  function icon(name) {
    const paths = {
      chat: '<path d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.6.5-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z"/><path d="M8.5 9.5h7M8.5 12.5h4" stroke-linecap="round"/>',
      x: '<path d="M6 6l12 12M18 6L6 18" stroke-linecap="round"/>',
      chevron: '<path d="M6 9l6 6 6-6" stroke-linecap="round" stroke-linejoin="round"/>',
      send: '<path d="M4.5 12.5L19 5l-4.5 15-3-6.5z" stroke-linejoin="round"/><path d="M11.5 13.5L19 5" stroke-linecap="round"/>',
      headset: '<path d="M4 14v-2a8 8 0 0 1 16 0v2" stroke-linecap="round"/><rect x="3" y="13" width="4" height="6" rx="1.5"/><rect x="17" y="13" width="4" height="6" rx="1.5"/><path d="M19 19c0 1.5-2 2.5-5 2.5" stroke-linecap="round"/>',
      cloudOff: '<path d="M3 3l18 18" stroke-linecap="round"/><path d="M7.5 8.2A5 5 0 0 0 6.5 18H17m3.2-1.6A4 4 0 0 0 17 9.5h-.3A6 6 0 0 0 9.8 5.5" stroke-linecap="round"/>',
      check: '<path d="M5 12.5l4.5 4.5L19 7.5" stroke-linecap="round" stroke-linejoin="round"/>',
      bolt: '<path d="M13 3L5 13.5h6L10 21l8-10.5h-6z" stroke-linejoin="round"/>',
      clip: '<path d="M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8" stroke-linecap="round" stroke-linejoin="round"/>',
    };
    return `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" aria-hidden="true">${paths[name]}</svg>`;
  }

  function css() {
    return `
:host { all: initial; }
.ed { --accent: ${DEFAULT_ACCENT}; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc;
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC",
    "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif;
  color: var(--ink); -webkit-font-smoothing: antialiased; }
.ed *, .ed *::before, .ed *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; cursor: pointer; }
svg { width: 22px; height: 22px; flex: none; }

.launcher { position: fixed; right: 24px; bottom: 24px; z-index: 2147483000; width: 60px; height: 60px;
  border: 0; border-radius: 50%; background: var(--accent); color: #fff; display: grid; place-items: center;
  box-shadow: 0 10px 25px -5px rgb(15 23 42 / .3), 0 4px 10px -4px rgb(15 23 42 / .25);
  transition: transform .2s ease, box-shadow .2s ease; }
.launcher:hover { transform: translateY(-2px) scale(1.03); box-shadow: 0 14px 30px -6px rgb(15 23 42 / .35); }
.launcher:focus-visible { outline: 3px solid color-mix(in srgb, var(--accent) 40%, white); outline-offset: 3px; }
.launcher svg { width: 28px; height: 28px; }
.launcher > span { grid-area: 1 / 1; display: grid; place-items: center; transition: transform .25s ease, opacity .2s ease; }
.launcher .ico-close { opacity: 0; transform: rotate(-90deg) scale(.6); }
.launcher.is-open .ico-chat { opacity: 0; transform: rotate(90deg) scale(.6); }
.launcher.is-open .ico-close { opacity: 1; transform: none; }
.launcher.bump { animation: bump .5s ease; }
@keyframes bump { 30% { transform: scale(1.12); } 60% { transform: scale(.96); } }
.badge { position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: #ef4444; color: #fff; font-size: 12px; font-weight: 700;
  display: grid; place-items: center; border: 2px solid #fff; opacity: 1 !important; transform: none !important; }

.panel { position: fixed; right: 24px; bottom: 100px; z-index: 2147483000; width: 376px;
  height: min(600px, calc(100vh - 130px)); display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 18px; border: 1px solid rgb(15 23 42 / .06);
  box-shadow: 0 24px 60px -12px rgb(15 23 42 / .35), 0 8px 20px -8px rgb(15 23 42 / .2);
  animation: pop .22s cubic-bezier(.2,.9,.3,1.2); transform-origin: bottom right; }
@keyframes pop { from { opacity: 0; transform: translateY(12px) scale(.97); } }

.head { display: flex; align-items: center; gap: 12px; padding: 18px 16px 18px 18px; color: #fff;
  background: linear-gradient(135deg, var(--accent), color-mix(in srgb, var(--accent) 70%, #0f172a)); }
.avatar { width: 42px; height: 42px; border-radius: 50%; background: rgb(255 255 255 / .18);
  display: grid; place-items: center; box-shadow: inset 0 0 0 1px rgb(255 255 255 / .25); }
.head-text { flex: 1; min-width: 0; }
.title { font-size: 16px; font-weight: 650; letter-spacing: -.01em; }
.subtitle { display: flex; align-items: center; gap: 6px; font-size: 12.5px; opacity: .9; margin-top: 2px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #fbbf24; flex: none;
  box-shadow: 0 0 0 2px rgb(255 255 255 / .25); }
.dot[data-state="connected"] { background: #34d399; }
.dot[data-state="offline"] { background: #f87171; }
.icon-btn { width: 34px; height: 34px; border: 0; border-radius: 10px; background: transparent;
  color: #fff; display: grid; place-items: center; }
.icon-btn:hover { background: rgb(255 255 255 / .15); }

.banner { display: flex; gap: 8px; align-items: center; padding: 9px 14px; font-size: 12.5px;
  background: #fef3c7; color: #92400e; border-bottom: 1px solid #fde68a; }
.banner svg { width: 18px; height: 18px; }

.messages { flex: 1; overflow-y: auto; padding: 18px 16px 8px; background: var(--bg);
  display: flex; flex-direction: column; gap: 2px; }
.earlier { align-self: center; margin: 4px 0 8px; padding: 4px 12px; border: 1px solid var(--line);
  border-radius: 999px; background: transparent; color: var(--muted); font: inherit; font-size: 12px; cursor: pointer; }
.earlier[hidden] { display: none; }
.empty { margin: auto 8px; padding: 16px 18px; text-align: center; color: var(--muted);
  background: #fff; border: 1px dashed var(--line); border-radius: 14px; }
.msg { display: flex; flex-direction: column; max-width: 82%; margin-top: 10px; }
.msg.cont { margin-top: 2px; }
.msg.cont .who { display: none; }
.msg.me { align-self: flex-end; align-items: flex-end; }
.msg.them { align-self: flex-start; align-items: flex-start; }
.msg.center { align-self: center; max-width: 90%; }
.who { font-size: 11.5px; color: var(--muted); margin: 0 0 3px 4px; display: flex; align-items: center; }
.auto-label { display: inline-flex; align-items: center; gap: 3px; padding: 1px 8px 1px 5px; border-radius: 99px;
  background: color-mix(in srgb, var(--accent) 12%, white); color: var(--accent); font-weight: 600; font-size: 11px; }
.auto-label svg { width: 12px; height: 12px; }
.bubble { padding: 9px 13px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere;
  font-size: 14px; line-height: 1.45; }
.me .bubble { background: var(--accent); color: #fff; border-bottom-right-radius: 5px; }
.them .bubble { background: #fff; color: var(--ink); border: 1px solid var(--line); border-bottom-left-radius: 5px;
  box-shadow: 0 1px 2px rgb(15 23 42 / .04); }
.kind-auto_reply .bubble { background: color-mix(in srgb, var(--accent) 5%, white);
  border-color: color-mix(in srgb, var(--accent) 22%, white); }
.sys { font-size: 12px; color: var(--muted); background: #eef2f7; padding: 4px 12px; border-radius: 99px; }
.meta { display: flex; gap: 5px; align-items: center; font-size: 11px; color: #5b6b80; margin: 3px 4px 0; }
.ticks { font-size: 11px; letter-spacing: -2px; padding-right: 2px; }
.ticks.pending { letter-spacing: 0; filter: grayscale(1); opacity: .8; }
.ticks.delivered { color: #94a3b8; }
.ticks.read { color: #0ea5e9; font-weight: 700; }

.typing { display: flex; align-items: center; gap: 8px; padding: 4px 18px 8px; background: var(--bg);
  font-size: 12px; color: var(--muted); }
.typing-bubble { display: inline-flex; gap: 3px; padding: 8px 10px; background: #fff; border: 1px solid var(--line);
  border-radius: 14px; }
.typing-bubble i { width: 6px; height: 6px; border-radius: 50%; background: #94a3b8; animation: blink 1.2s infinite; }
.typing-bubble i:nth-child(2) { animation-delay: .2s; }
.typing-bubble i:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 60%, 100% { opacity: .3; transform: none; } 30% { opacity: 1; transform: translateY(-2px); } }

.csat, .csat-thanks { margin: 0; padding: 14px 16px; background: #fff; border-top: 1px solid var(--line); text-align: center; }
.csat-q { font-weight: 600; margin-bottom: 10px; }
.csat-scores { display: flex; justify-content: center; gap: 8px; }
.csat-btn { width: 44px; height: 44px; border-radius: 12px; border: 1px solid var(--line); background: #fff;
  font-size: 22px; line-height: 1; transition: transform .15s ease, border-color .15s ease, background .15s ease; }
.csat-btn:hover { transform: translateY(-2px); border-color: var(--accent);
  background: color-mix(in srgb, var(--accent) 6%, white); }
.csat-btn:disabled { opacity: .5; cursor: default; }
.csat-thanks { display: flex; gap: 8px; align-items: center; justify-content: center; color: #047857; font-weight: 600; }
.csat-thanks svg { width: 18px; height: 18px; }

.composer { display: flex; align-items: flex-end; gap: 8px; padding: 12px; border-top: 1px solid var(--line); background: #fff; }
textarea { flex: 1; resize: none; border: 1px solid var(--line); border-radius: 14px; padding: 10px 14px;
  /* 16px: mobile Safari zooms the page into any smaller field on focus. */
  font: inherit; font-size: 16px; color: var(--ink); background: var(--bg); max-height: 120px; min-height: 42px; outline: none;
  transition: border-color .15s ease, box-shadow .15s ease, background .15s ease; }
textarea:focus { border-color: color-mix(in srgb, var(--accent) 60%, white); background: #fff;
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent) 15%, transparent); }
.bubble-att { padding: 4px; }
.bubble-att .att-img img { max-width: 100%; }
.attach { width: 42px; height: 42px; border: 0; border-radius: 12px; background: transparent; color: var(--muted);
  display: grid; place-items: center; }
.attach:hover { color: var(--accent); background: var(--bg); }
.attach svg { width: 20px; height: 20px; }
.att { display: block; margin-top: 4px; border-radius: 12px; overflow: hidden; color: inherit; text-decoration: none; }
.att-img img, .att-pending img { display: block; max-width: 220px; max-height: 220px; border-radius: 12px; background: var(--bg); }
.att-file { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: #fff; border: 1px solid var(--line); }
.att-name { font-weight: 600; overflow-wrap: anywhere; }
.att-size, .att-sending { font-size: 12px; color: var(--muted); }
.att-pending { opacity: .8; display: flex; flex-direction: column; align-items: flex-end; gap: 4px; }
.att-missing { opacity: .5; }
.upload-failed { margin: 6px 16px; padding: 8px 10px; border-radius: 10px; background: #fef2f2; color: #b91c1c; font-size: 13px; }
.send { width: 42px; height: 42px; border: 0; border-radius: 12px; background: var(--accent); color: #fff;
  display: grid; place-items: center; transition: opacity .15s ease, transform .15s ease; }
.send svg { width: 20px; height: 20px; }
.send:disabled { opacity: .35; cursor: default; }
.send:not(:disabled):hover { transform: translateY(-1px); }
.foot { text-align: center; font-size: 11px; color: #5b6b80; padding: 0 0 8px; background: #fff; }
.foot b { color: #334155; font-weight: 600; }

@media (max-width: 480px) {
  .panel { right: 0; bottom: 0; width: 100vw; height: 100%; border-radius: 0; }
  .launcher.is-open { display: none; }
}
@media (prefers-reduced-motion: reduce) { .ed * { animation: none !important; transition: none !important; } }
`;
  }

  // ---------------------------------------------------------------- go
  renderConnection();
  if (!SITE_KEY) {
    statusText.textContent = T.unavailable;
    readyReject(new Error("edgedesk widget: the script tag needs data-site-key"));
  } else {
    start();
  }
})();
