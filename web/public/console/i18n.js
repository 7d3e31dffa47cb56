// @ts-check
// The console's words in English and Simplified Chinese (issue 16). Static text in index.html
// is named by attributes (data-i18n for the text, data-i18n-placeholder, -aria-label, -title)
// and filled by `applyStatic`; the modules put every other string through `t`. Conversation
// data (messages, names, tags) is never translated.
//
// The language: `?lang=en|zh` (remembered), else the agent's earlier choice in this browser,
// else the browser's languages (any zh* is Chinese). Option values stay protocol values.

/** Where the agent's choice is kept (this browser, every tab). */
export const LANG_KEY = "edgedesk:console:lang";

/** @typedef {"en" | "zh"} Lang */

const en = {
  "title": "edgedesk · Agent console",
  "title.unread": "({n}) edgedesk · Agent console",
  "lang.label": "Language",

  // Sign-in
  "signin.heading": "Agent console",
  "signin.lead": "Sign in to your workspace.",
  "signin.workspace": "Workspace",
  "signin.email": "Email",
  "signin.emailPlaceholder": "you@example.com",
  "signin.password": "Password",
  "signin.submit": "Sign in",
  "signin.tokenSummary": "Sign in with a token from your backend",
  "signin.token": "Agent token",
  "signin.tokenHint": "Leave email and password empty. Get a token from your backend, or locally, in the repository:",
  "signin.stay": "You stay signed in in this browser until you sign out.",
  "signin.needCredentials": "Enter your email and password (or a token from your backend).",
  "signin.sdkFailed": "Could not load the edgedesk SDK: {why}",

  // Token checks
  "token.unreadable": "Could not read the token: {why}",
  "token.notJwt": "That is not a token (expected three dot-separated parts).",
  "token.noSub": "The token has no subject (sub).",
  "token.role": "This console is for agents and admins; the token's role is \"{role}\".",
  "token.workspace": "The token is for workspace \"{token}\", not \"{workspace}\".",
  "token.conversation": "The token is limited to one conversation; the inbox needs a workspace-wide token.",
  "token.expired": "The token has expired: get a new one.",

  // Session
  "session.ended": "Your session ended: {why}",
  "session.disabled": "Your account was disabled. Ask an admin.",
  "session.otherTab": "Signed out in another tab.",
  "session.refused": "The relay refused the token ({code}). Sign in again.",
  "error.generic": "Something went wrong",

  // Top bar
  "top.workspace": "Workspace",
  "conn.connected": "Connected",
  "conn.offline": "Offline",
  "conn.connecting": "Connecting…",
  "presence.label": "Presence",
  "presence.online": "● Online",
  "presence.away": "● Away",
  "prefs.label": "Alerts and shortcuts",
  "prefs.sound": "Sound on new messages",
  "prefs.desktop": "Desktop notifications",
  "prefs.shortcuts": "Keyboard shortcuts (?)",
  "prefs.denied": "The browser did not allow notifications; allow them in the site settings.",
  "top.agents": "Agents",
  "top.signout": "Sign out",
  // Shown with CSS capitalisation ("Agent").
  "role.agent": "agent",
  "role.admin": "admin",

  // The list
  "search.placeholder": "Search messages…",
  "search.label": "Search messages",
  "filter.status": "Status",
  "filter.allStatuses": "All statuses",
  "filter.assignee": "Assignee",
  "filter.everyone": "Everyone",
  "filter.mine": "Mine",
  "filter.unassigned": "Unassigned",
  "filter.sort": "Sort",
  "sort.priority": "Sort: priority",
  "sort.waiting": "Sort: waiting",
  "sort.activity": "Sort: recent",
  "filter.unread": "Unread",
  "list.label": "Conversations",
  "list.more": "Load more",
  "list.empty": "No conversations here.",
  "list.noMatch": "No messages match.",
  "list.noMessages": "No messages yet",
  "list.autoReply": "Auto-reply",
  "counts.open": "Open",
  "counts.pending": "Pending",
  "counts.mine": "Mine",
  "counts.unassigned": "Unassigned",
  "counts.unread": "Unread",
  "time.now": "now",
  "time.minutes": "{n}m",
  "time.hours": "{n}h",

  // Status and priority names as shown (the values are the protocol's)
  "status.open": "Open",
  "status.pending": "Pending",
  "status.snoozed": "Snoozed",
  "status.snoozedHour": "Snoozed (1 h)",
  "status.resolved": "Resolved",
  "priority.low": "Low",
  "priority.normal": "Normal",
  "priority.high": "High",
  "priority.urgent": "Urgent",

  // The conversation
  "conv.pick": "Pick a conversation",
  "conv.pickHint": "Messages, notes and the case details appear here. Changes arrive live.",
  "conv.back": "Back to the list",
  "conv.details": "Details",
  "conv.live": "Live",
  "conv.offline": "Offline",
  "conv.connecting": "Connecting",
  "conv.team": "team {team}",
  "conv.openFailed": "Could not open the conversation: {why}",
  "conv.noMessages": "No messages yet.",
  "conv.earlierMessages": "Earlier messages",
  "conv.historyFailed": "Earlier messages could not be loaded: {why}",
  "visitor.fallback": "Visitor {id}",
  "visitor.typing": "Visitor",
  "typing.one": "{who} is typing…",
  "typing.many": "{who} are typing…",
  "typing.default": "Visitor is typing…",
  "msg.you": "You",
  "msg.autoReply": "Auto-reply",
  "tick.pending": "Sending",
  "tick.delivered": "Delivered",
  "tick.read": "Read",
  "composer.placeholder": "Reply to the visitor… (Enter to send, Shift+Enter for a new line)",
  "composer.canned": "Canned replies",
  "composer.cannedPick": "Canned replies…",
  "composer.cannedEnglish": "English",
  "composer.cannedChinese": "中文",
  "composer.emoji": "Insert an emoji",
  "composer.emojiPanel": "Emoji",
  "composer.emojiInsert": "Insert {emoji}",
  "composer.attach": "Attach a file",
  "composer.send": "Send",
  "composer.sending": "Sending…",
  "composer.notSent": "Not sent: {why}",
  "composer.fileNotSent": "{name} was not sent: {why}",

  // Details
  "details.close": "Close details ✕",
  "details.case": "Case",
  "details.status": "Status",
  "details.priority": "Priority",
  "details.assignee": "Assignee",
  "details.unassigned": "Unassigned",
  "details.you": "{name} (you)",
  "details.claim": "Assign to me",
  "details.takeOver": "Take over",
  "details.takeOverConfirm": "Take over this conversation from {name}? They will be told.",
  "details.taken": "Someone else took it a moment ago.",
  "details.tookOver": "{agent} took over the conversation with {visitor}.",
  "details.rating": "Rating",
  "details.visitor": "Visitor",
  "details.earlier": "Earlier conversations",
  "details.tags": "Tags",
  "details.tagPlaceholder": "Add a tag",
  "details.tagAdd": "Add",
  "details.noTags": "No tags",
  "details.tagRemove": "Remove {tag}",
  "details.tagRemoveLabel": "Remove tag {tag}",
  "details.tagInvalid": "A tag is 1 to 64 bytes without control characters.",
  "details.notes": "Internal notes",
  "details.agentsOnly": "Agents only",
  "details.agentsOnlyTitle": "Agents only: never sent to the visitor",
  "details.notePlaceholder": "Write a note for your team…",
  "details.noteAdd": "Add note",
  "details.noNotes": "No notes yet.",
  "details.loading": "Loading…",

  // The visitor panel (visitor_panel.js)
  "facts.name": "Name",
  "facts.language": "Language",
  "facts.vip": "VIP",
  "facts.yes": "Yes ★",
  "facts.no": "No",
  "facts.channel": "Channel",
  "facts.page": "Page",
  "facts.referrer": "Came from",
  "facts.none": "None",

  // Keyboard shortcuts (comfort.js)
  "shortcuts.title": "Keyboard shortcuts",
  "shortcuts.close": "Close",
  "shortcuts.next": "Next conversation",
  "shortcuts.previous": "Previous conversation",
  "shortcuts.reply": "Focus the reply box",
  "shortcuts.send": "Send (Shift+Enter: new line)",
  "shortcuts.resolve": "Resolve the open conversation",
  "shortcuts.search": "Search",
  "shortcuts.leave": "Leave the reply box",
  "shortcuts.help": "This list",

  // The agents page (agents.js)
  "agents.title": "Agents",
  "agents.close": "Close the agents page",
  "agents.name": "Name",
  "agents.email": "Email",
  "agents.role": "Role",
  "agents.status": "Status",
  "agents.actions": "Actions",
  "agents.id": "Id",
  "agents.idPlaceholder": "agent-ada",
  "agents.password": "Password",
  "agents.roleAgent": "Agent",
  "agents.roleAdmin": "Admin",
  "agents.disabledCheck": "Disabled (signs the agent out everywhere)",
  "agents.new": "New agent",
  "agents.save": "Save",
  "agents.disabled": "Disabled",
  "agents.active": "Active",
  "agents.edit": "Edit",
  "agents.editLabel": "Edit {name}",
  "agents.unchanged": "Unchanged",
  "agents.minLength": "At least 10 characters",
  "agents.listFailed": "Could not list agents: {why}",
  "agents.needId": "Give the agent an id (letters, digits, - _ . : @), e.g. agent-ada.",
  "agents.notSelf": "You cannot disable your own account.",
  "agents.saved": "Saved {name}.",
  "agents.teams": "Teams",
  "agents.noTeams": "No teams yet: add them under routing in the workspace configuration.",
  "agents.skills": "Skills",
  "agents.skillsPlaceholder": "Refunds, English",
  "agents.maxOpen": "Open conversations at most",
  "agents.maxOpenPlaceholder": "The team's",
  "agents.teamsNone": "—",
};

/** @type {Record<keyof typeof en, string> & Record<string, string>} */
const zh = {
  "title": "edgedesk · 客服工作台",
  "title.unread": "({n}) edgedesk · 客服工作台",
  "lang.label": "语言",

  "signin.heading": "客服工作台",
  "signin.lead": "登录你的工作区。",
  "signin.workspace": "工作区",
  "signin.email": "邮箱",
  "signin.emailPlaceholder": "you@example.com",
  "signin.password": "密码",
  "signin.submit": "登录",
  "signin.tokenSummary": "使用后端签发的令牌登录",
  "signin.token": "客服令牌",
  "signin.tokenHint": "邮箱和密码留空即可。令牌由你的后端签发；本地开发时可在代码仓库中运行：",
  "signin.stay": "退出登录前，此浏览器会一直保持登录。",
  "signin.needCredentials": "请输入邮箱和密码（或后端签发的令牌）。",
  "signin.sdkFailed": "无法加载 edgedesk SDK：{why}",

  "token.unreadable": "无法读取令牌：{why}",
  "token.notJwt": "这不是有效的令牌（应由三段以点分隔的内容组成）。",
  "token.noSub": "令牌缺少主体（sub）。",
  "token.role": "工作台仅供客服和管理员使用；该令牌的角色是“{role}”。",
  "token.workspace": "该令牌属于工作区“{token}”，而不是“{workspace}”。",
  "token.conversation": "该令牌仅限单个会话；收件箱需要整个工作区的令牌。",
  "token.expired": "令牌已过期，请重新获取。",

  "session.ended": "登录已失效：{why}",
  "session.disabled": "你的账号已被停用，请联系管理员。",
  "session.otherTab": "已在另一个标签页退出登录。",
  "session.refused": "服务器拒绝了令牌（{code}），请重新登录。",
  "error.generic": "出错了",
  // The relay's refusals by code (PROTOCOL.md §2.9); other codes show the relay's message.
  "error.wrong_credentials": "邮箱或密码错误。",
  "error.account_locked": "密码错误次数过多，账号已锁定。请稍后再试，或联系管理员。",
  "error.rate_limited": "此工作区登录尝试过于频繁，请稍后再试。",
  "error.account_disabled": "该账号已被停用，请联系管理员。",

  "top.workspace": "工作区",
  "conn.connected": "已连接",
  "conn.offline": "离线",
  "conn.connecting": "连接中…",
  "presence.label": "在线状态",
  "presence.online": "● 在线",
  "presence.away": "● 离开",
  "prefs.label": "提醒与快捷键",
  "prefs.sound": "新消息提示音",
  "prefs.desktop": "桌面通知",
  "prefs.shortcuts": "键盘快捷键 (?)",
  "prefs.denied": "浏览器未允许通知，请在网站设置中开启。",
  "top.agents": "客服账号",
  "top.signout": "退出登录",
  "role.agent": "客服",
  "role.admin": "管理员",

  "search.placeholder": "搜索消息…",
  "search.label": "搜索消息",
  "filter.status": "状态",
  "filter.allStatuses": "全部状态",
  "filter.assignee": "负责人",
  "filter.everyone": "全部会话",
  "filter.mine": "指派给我",
  "filter.unassigned": "未分配",
  "filter.sort": "排序",
  "sort.priority": "按优先级",
  "sort.waiting": "按等待时长",
  "sort.activity": "按最近活动",
  "filter.unread": "未读",
  "list.label": "会话",
  "list.more": "加载更多",
  "list.empty": "这里没有会话。",
  "list.noMatch": "没有匹配的消息。",
  "list.noMessages": "暂无消息",
  "list.autoReply": "自动回复",
  "counts.open": "进行中",
  "counts.pending": "待访客回复",
  "counts.mine": "我的",
  "counts.unassigned": "未分配",
  "counts.unread": "未读",
  "time.now": "刚刚",
  "time.minutes": "{n} 分钟前",
  "time.hours": "{n} 小时前",

  // Not 待处理: that is the workflow's tag for "a visitor waits" (core workflow config).
  "status.open": "进行中",
  "status.pending": "待访客回复",
  "status.snoozed": "稍后处理",
  "status.snoozedHour": "稍后处理（1 小时）",
  "status.resolved": "已解决",
  "priority.low": "低",
  "priority.normal": "普通",
  "priority.high": "高",
  "priority.urgent": "紧急",

  "conv.pick": "请选择一个会话",
  "conv.pickHint": "消息、内部备注和会话详情会显示在这里，变更实时同步。",
  "conv.back": "返回会话列表",
  "conv.details": "详情",
  "conv.live": "实时",
  "conv.offline": "离线",
  "conv.connecting": "连接中",
  "conv.team": "团队 {team}",
  "conv.openFailed": "无法打开会话：{why}",
  "conv.noMessages": "暂无消息。",
  "conv.earlierMessages": "更早的消息",
  "conv.historyFailed": "无法加载更早的消息：{why}",
  "visitor.fallback": "访客 {id}",
  "visitor.typing": "访客",
  "typing.one": "{who} 正在输入…",
  "typing.many": "{who} 正在输入…",
  "typing.default": "访客正在输入…",
  "msg.you": "我",
  "msg.autoReply": "自动回复",
  "tick.pending": "发送中",
  "tick.delivered": "已送达",
  "tick.read": "已读",
  "composer.placeholder": "回复访客…（Enter 发送，Shift+Enter 换行）",
  "composer.canned": "快捷回复",
  "composer.cannedPick": "快捷回复…",
  "composer.cannedEnglish": "英文",
  "composer.cannedChinese": "中文",
  "composer.emoji": "插入表情",
  "composer.emojiPanel": "表情",
  "composer.emojiInsert": "插入 {emoji}",
  "composer.attach": "发送文件",
  "composer.send": "发送",
  "composer.sending": "发送中…",
  "composer.notSent": "未发送：{why}",
  "composer.fileNotSent": "{name} 未能发送：{why}",

  "details.close": "关闭详情 ✕",
  "details.case": "会话信息",
  "details.status": "状态",
  "details.priority": "优先级",
  "details.assignee": "负责人",
  "details.unassigned": "未分配",
  "details.you": "{name}（我）",
  "details.claim": "认领",
  "details.takeOver": "接手",
  "details.takeOverConfirm": "要从 {name} 手中接手这个会话吗？对方会收到通知。",
  "details.taken": "刚刚已被其他客服认领。",
  "details.tookOver": "{agent} 接手了与 {visitor} 的会话。",
  "details.rating": "评分",
  "details.visitor": "访客信息",
  "details.earlier": "历史会话",
  "details.tags": "标签",
  "details.tagPlaceholder": "添加标签",
  "details.tagAdd": "添加",
  "details.noTags": "暂无标签",
  "details.tagRemove": "移除 {tag}",
  "details.tagRemoveLabel": "移除标签 {tag}",
  "details.tagInvalid": "标签长度为 1 到 64 字节，且不能包含控制字符。",
  "details.notes": "内部备注",
  "details.agentsOnly": "仅客服可见",
  "details.agentsOnlyTitle": "仅客服可见：不会发送给访客",
  "details.notePlaceholder": "给团队写一条备注…",
  "details.noteAdd": "添加备注",
  "details.noNotes": "暂无备注。",
  "details.loading": "加载中…",

  "facts.name": "姓名",
  "facts.language": "语言",
  "facts.vip": "VIP",
  "facts.yes": "是 ★",
  "facts.no": "否",
  "facts.channel": "渠道",
  "facts.page": "来源页面",
  "facts.referrer": "来路",
  "facts.none": "无",
  // Channel values as shown; other channels show their value.
  "channel.web": "网页",

  "shortcuts.title": "键盘快捷键",
  "shortcuts.close": "关闭",
  "shortcuts.next": "下一个会话",
  "shortcuts.previous": "上一个会话",
  "shortcuts.reply": "聚焦回复框",
  "shortcuts.send": "发送（Shift+Enter 换行）",
  "shortcuts.resolve": "将当前会话标为已解决",
  "shortcuts.search": "搜索",
  "shortcuts.leave": "离开回复框",
  "shortcuts.help": "显示此列表",

  "agents.title": "客服账号",
  "agents.close": "关闭客服账号页",
  "agents.name": "姓名",
  "agents.email": "邮箱",
  "agents.role": "角色",
  "agents.status": "状态",
  "agents.actions": "操作",
  "agents.id": "账号 ID",
  "agents.idPlaceholder": "字母、数字及 - _ . : @",
  "agents.password": "密码",
  "agents.roleAgent": "客服",
  "agents.roleAdmin": "管理员",
  "agents.disabledCheck": "停用（立即在所有设备上退出登录）",
  "agents.new": "新建客服",
  "agents.save": "保存",
  "agents.disabled": "已停用",
  "agents.active": "正常",
  "agents.edit": "编辑",
  "agents.editLabel": "编辑 {name}",
  "agents.unchanged": "不修改",
  "agents.minLength": "至少 10 个字符",
  "agents.listFailed": "无法获取客服列表：{why}",
  "agents.needId": "请填写客服 ID（字母、数字及 - _ . : @），例如 agent-ada。",
  "agents.notSelf": "不能停用你自己的账号。",
  "agents.saved": "已保存 {name}。",
  "agents.teams": "所属团队",
  "agents.noTeams": "还没有团队：请先在工作区配置的路由设置中添加。",
  "agents.skills": "技能",
  "agents.skillsPlaceholder": "退款，英语",
  "agents.maxOpen": "最多同时接待会话数",
  "agents.maxOpenPlaceholder": "按团队设置",
  "agents.teamsNone": "—",
};

/** @type {Record<Lang, Record<string, string>>} */
const DICT = { en, zh };

/** @param {unknown} l @returns {Lang | null} */
function parse(l) {
  if (typeof l !== "string") return null;
  const s = l.toLowerCase();
  return s.startsWith("zh") ? "zh" : s.startsWith("en") ? "en" : null;
}

function stored() {
  try {
    return parse(localStorage.getItem(LANG_KEY));
  } catch {
    return null; // storage blocked: the browser's languages decide
  }
}

/** @returns {Lang} */
function detect() {
  const asked = parse(new URLSearchParams(location.search).get("lang"));
  if (asked) {
    remember(asked); // view_url.js rewrites the query; the choice must outlive it
    return asked;
  }
  const known = stored();
  if (known) return known;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return langs.some((l) => parse(l) === "zh") ? "zh" : "en";
}

/** @param {Lang} l */
function remember(l) {
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    /* storage blocked: the choice lasts for this page */
  }
}

/** @type {Lang} */
let current = detect();
/** @type {Set<() => void>} */
const listeners = new Set();

/** The console's language. */
export const lang = () => current;

/** The BCP 47 tag for `lang` attributes and dates. */
export const locale = () => (current === "zh" ? "zh-CN" : "en");

/**
 * The string `key` in the console's language, `{name}` replaced by `params.name`. A key
 * missing in Chinese falls back to English, then to the key itself (visible, so it gets fixed).
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params) {
  const text = DICT[current][key] ?? en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Whether the console's language has its own string for `key` (no English fallback). */
export const has = (key) => key in DICT[current];

/**
 * Switches the language, remembers it, re-labels the page and tells the listeners (which
 * re-render what they drew).
 * @param {string} l "en" or "zh"
 */
export function setLang(l) {
  const next = parse(l);
  if (!next) return;
  remember(next);
  if (next === current) return;
  current = next;
  applyStatic();
  for (const f of listeners) f();
}

/** Calls `f` after each language switch. @param {() => void} f */
export function onLangChange(f) {
  listeners.add(f);
}

const ATTRIBUTES = [
  ["i18nPlaceholder", "placeholder"],
  ["i18nAriaLabel", "aria-label"],
  ["i18nTitle", "title"],
];

/** Fills the page's marked elements, its title and `<html lang>`, and the language selects. */
export function applyStatic(root = document) {
  document.documentElement.lang = locale();
  document.title = t("title");
  for (const node of root.querySelectorAll("[data-i18n], [data-i18n-placeholder], [data-i18n-aria-label], [data-i18n-title]")) {
    const e = /** @type {HTMLElement} */ (node);
    if (e.dataset.i18n) e.textContent = t(e.dataset.i18n);
    for (const [data, attr] of ATTRIBUTES) {
      if (e.dataset[data]) e.setAttribute(attr, t(e.dataset[data]));
    }
  }
  for (const node of root.querySelectorAll("select[data-lang-select]")) {
    /** @type {HTMLSelectElement} */ (node).value = current;
  }
}
