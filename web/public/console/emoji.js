// @ts-check
// A small emoji picker for the reply box: the faces and signs support chats use most, put
// in at the cursor.
import { onLangChange, t } from "./i18n.js";

export const EMOJI = [
  "😀", "😊", "🙂", "😉", "😍", "🤔", "😅", "😂", "😢", "🙏", "👍", "👌",
  "👋", "🎉", "❤️", "✅", "❌", "⚠️", "📦", "🚚", "💳", "🧾", "⏳", "📞",
];

/**
 * Wires `button` to open `panel` (filled with the emoji) and put the chosen one into `input`.
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} panel
 * @param {HTMLTextAreaElement} input
 */
export function installEmojiPicker(button, panel, input) {
  panel.replaceChildren(
    ...EMOJI.map((e) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "emoji";
      b.textContent = e;
      b.setAttribute("aria-label", t("composer.emojiInsert", { emoji: e }));
      b.dataset.testid = "console-emoji";
      b.addEventListener("click", () => {
        const at = input.selectionStart ?? input.value.length;
        const end = input.selectionEnd ?? at;
        input.setRangeText(e, at, end, "end");
        input.dispatchEvent(new Event("input"));
        close();
        input.focus();
      });
      return b;
    }),
  );
  onLangChange(() => {
    for (const b of panel.children) b.setAttribute("aria-label", t("composer.emojiInsert", { emoji: b.textContent || "" }));
  });
  const close = () => {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
  };
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) /** @type {HTMLElement | null} */ (panel.firstElementChild)?.focus();
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      close();
      button.focus();
    }
  });
}
