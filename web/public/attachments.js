// @ts-check
// Attachments in a chat view, shared by the widget and the console (PROTOCOL.md §2.10): a
// message's file shown from a short-lived link the SDK fetches (images inline, other files as
// a download), and a file still in the SDK's upload outbox shown from the browser's own copy.

/** "2.4 MB", "830 KB", "12 B". */
export function formatSize(n) {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

/**
 * The element showing `attachment` of a message: an image (opening full size in a new tab)
 * or a download link, its address filled in once `client.attachmentUrl` answers.
 * @param {{ attachmentUrl(id: string): Promise<string> }} client
 * @param {{ id: string, name: string, type: string, size: number, image: boolean }} attachment
 * @param {string} prefix the data-testid prefix (`edgedesk`, `console`)
 */
export function attachmentNode(client, attachment, prefix) {
  const a = document.createElement("a");
  a.dataset.testid = `${prefix}-attachment`;
  a.dataset.id = attachment.id;
  a.target = "_blank";
  a.rel = "noopener";
  a.title = `${attachment.name} (${formatSize(attachment.size)})`;
  if (attachment.image) {
    a.className = "att att-img";
    const img = document.createElement("img");
    img.alt = attachment.name;
    img.loading = "lazy";
    img.decoding = "async";
    a.append(img);
    client
      .attachmentUrl(attachment.id)
      .then((url) => {
        img.src = url;
        a.href = url;
      })
      .catch(() => a.classList.add("att-missing"));
  } else {
    a.className = "att att-file";
    a.download = attachment.name;
    const icon = document.createElement("span");
    icon.className = "att-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "📄";
    const name = document.createElement("span");
    name.className = "att-name";
    name.textContent = attachment.name;
    const size = document.createElement("span");
    size.className = "att-size";
    size.textContent = formatSize(attachment.size);
    a.append(icon, name, size);
    client
      .attachmentUrl(attachment.id)
      .then((url) => (a.href = url))
      .catch(() => a.classList.add("att-missing"));
  }
  return a;
}

const previews = new Map(); // upload id -> object URL of its blob

/**
 * The element showing a file still waiting in the upload outbox.
 * @param {{ id: string, name: string, type: string, size: number, blob: Blob }} upload
 * @param {string} prefix
 * @param {string} sendingLabel e.g. "Sending…"
 */
export function pendingNode(upload, prefix, sendingLabel) {
  const el = document.createElement("div");
  el.className = "att att-pending";
  el.dataset.testid = `${prefix}-upload`;
  el.dataset.id = upload.id;
  if (/^image\/(png|jpeg|gif|webp)$/.test(upload.type)) {
    let url = previews.get(upload.id);
    if (!url) {
      url = URL.createObjectURL(upload.blob);
      previews.set(upload.id, url);
    }
    const img = document.createElement("img");
    img.alt = upload.name;
    img.src = url;
    el.append(img);
  } else {
    const name = document.createElement("span");
    name.className = "att-name";
    name.textContent = `📄 ${upload.name}`;
    el.append(name);
  }
  const state = document.createElement("span");
  state.className = "att-sending";
  state.textContent = sendingLabel;
  el.append(state);
  return el;
}

/** Frees the previews of uploads no longer waiting. @param {Set<string>} waiting */
export function releasePreviews(waiting) {
  for (const [id, url] of previews) {
    if (!waiting.has(id)) {
      URL.revokeObjectURL(url);
      previews.delete(id);
    }
  }
}
