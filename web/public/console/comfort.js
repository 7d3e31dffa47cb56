// @ts-check
// Working comfort in the console (issue 16): keyboard shortcuts, and signals of new work (a
// short sound, a desktop notification while the tab is in the background), each switched on
// by the agent and remembered in this browser.

const PREFS_KEY = "edgedesk:console:alerts";

/** The shortcuts, as the help dialog lists them: keys, and what they do (an i18n.js key). */
export const SHORTCUTS = [
  ["j  /  Alt+↓", "shortcuts.next"],
  ["k  /  Alt+↑", "shortcuts.previous"],
  ["r", "shortcuts.reply"],
  ["Enter", "shortcuts.send"],
  ["e", "shortcuts.resolve"],
  ["/", "shortcuts.search"],
  ["Esc", "shortcuts.leave"],
  ["?", "shortcuts.help"],
];

function typing(target) {
  const t = /** @type {HTMLElement | null} */ (target);
  if (!t) return false;
  return t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
}

/**
 * Listens for the shortcuts. Letters act only outside text fields, so typing is never taken;
 * Alt+arrows work everywhere.
 * @param {{ next(): void, previous(): void, reply(): void, resolve(): void, search(): void, help(): void }} actions
 */
export function installShortcuts(actions) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.isComposing) return;
    if (e.altKey && !e.ctrlKey && !e.metaKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      (e.key === "ArrowDown" ? actions.next : actions.previous)();
      return;
    }
    if (e.key === "Escape" && typing(e.target)) {
      /** @type {HTMLElement} */ (e.target).blur();
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const act = { j: actions.next, k: actions.previous, r: actions.reply, e: actions.resolve, "/": actions.search, "?": actions.help }[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  });
}

/** The agent's choices: sound and desktop notifications, off until switched on. */
export function loadPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) || "{}");
    return { sound: p.sound === true, desktop: p.desktop === true };
  } catch {
    return { sound: false, desktop: false };
  }
}

export function savePrefs(prefs) {
  localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
}

/** Asks the browser for notification permission; whether it was granted. */
export async function askDesktopPermission() {
  if (typeof Notification === "undefined") return false;
  if (Notification.permission === "granted") return true;
  if (Notification.permission === "denied") return false;
  return (await Notification.requestPermission()) === "granted";
}

let audio = /** @type {AudioContext | null} */ (null);

/** A soft two-note chime (no audio file to load). */
export function chime() {
  const Ctx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
  if (!Ctx) return;
  audio = audio || new Ctx();
  const now = audio.currentTime;
  for (const [i, freq] of [[0, 880], [1, 1320]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.12);
    gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + i * 0.12);
    osc.stop(now + i * 0.12 + 0.3);
  }
}

/**
 * New work arrived: the chime if the agent wants sound; a desktop notification if they want
 * those, granted them, and the tab is not in front. Clicking the notification opens it.
 * @param {{ sound: boolean, desktop: boolean }} prefs
 * @param {string} title
 * @param {string} body
 * @param {string} tag one notification per conversation
 * @param {() => void} onClick
 */
export function signalNewWork(prefs, title, body, tag, onClick) {
  if (prefs.sound) chime();
  if (!prefs.desktop || typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  const n = new Notification(title, { body, tag });
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
}
