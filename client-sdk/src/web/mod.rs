//! The browser SDK: core's sessions over the browser's WebSocket and IndexedDB, bound to
//! JavaScript with wasm-bindgen. `scripts/build-web.sh` builds it into the npm package
//! `@edgedesk/client` (`web/public/sdk/`); the TypeScript declarations below are its API.

mod chat;
mod epoch;
mod idb;
mod inbox;
mod js;
mod link;
mod listeners;
mod pending_upload;
mod replica_names;
mod uploads;
mod widget_session;

pub use chat::ChatClient;
pub use inbox::InboxClient;

use wasm_bindgen::prelude::*;

/// A fresh device id (`d-` and 24 hex digits): keep it with the device (localStorage), so
/// its read marks and pending messages stay its own across reloads.
#[wasm_bindgen(js_name = newDeviceId)]
pub fn new_device_id() -> Result<String, JsValue> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| js::error(format!("no randomness: {e}")))?;
    Ok(format!("d-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Who a device writes as; must match its token (`sub`, `role`). */
export interface Identity {
  role: "visitor" | "agent" | "admin";
  participant: string;
  name: string;
  device: string;
}

export interface ChatOptions {
  /** The relay, e.g. "https://chat.example.com" or "http://127.0.0.1:8787". */
  baseUrl: string;
  workspace: string;
  conversation: string;
  /** The device's JWT (from your backend, or `widgetSession` for anonymous visitors). */
  token: string;
  identity: Identity;
  /** false opens the replica offline; writes still work and are sent after setOnline(true). */
  online?: boolean;
}

export type MessageKind = "text" | "auto_reply" | "system" | "event";
export type Role = "visitor" | "agent" | "admin" | "server";

export interface ChatMessage {
  id: string;
  kind: MessageKind;
  body: string;
  author: { id: string; role: Role; name: string };
  device: string;
  /** ms since the epoch, by the writer's clock. */
  sentAt: number;
  /** The relay's receipt time: the message is durable there (one tick). */
  deliveredAt: number | null;
  /** Other participants whose read mark is at or after this message (two ticks). */
  readBy: string[];
  /** Written by this participant. */
  own: boolean;
  /** A file sent with the message: show it with `attachmentUrl(attachment.id)`. */
  attachment?: Attachment;
}

export interface Attachment {
  id: string;
  name: string;
  /** Its media type, e.g. `image/png`. */
  type: string;
  size: number;
  /** A raster image a page may show inline (the relay serves only these inline). */
  image: boolean;
}

/** A file `sendAttachment` took that is not a message yet: it waits (in IndexedDB, across
 *  restarts) until it is uploaded, then becomes message `message` exactly once. */
export interface PendingUpload {
  id: string;
  message: string;
  name: string;
  type: string;
  size: number;
  caption: string;
  /** The file itself, e.g. for a preview with URL.createObjectURL. */
  blob: Blob;
}

export type StatusState = "open" | "pending" | "snoozed" | "resolved";
export interface ConversationStatus { state: StatusState; snoozedUntil: number | null }
export interface Rating { score: 1 | 2 | 3 | 4 | 5; comment: string | null }
export type Priority = "low" | "normal" | "high" | "urgent";

/** An agent's case panel (never held by visitors). */
export interface CasePanel {
  tags: string[];
  assignee: string | null;
  team: string | null;
  priority: Priority | null;
  notes: ChatMessage[];
}

export type ConnectionState = "connected" | "connecting" | "offline";
export interface ConnectionEvent { state: ConnectionState; code: number | null; reason: string | null }
export interface TypingEvent { participant: string; role: Role; typing: boolean }

export interface ChatEvents {
  /** Anything changed: re-render from the getters. */
  change: undefined;
  /** A message from another device. */
  message: ChatMessage;
  /** Agents: an internal note from another device. */
  note: ChatMessage;
  typing: TypingEvent;
  connection: ConnectionEvent;
  /** The relay closed the socket because the token expired: call setToken with a new one. */
  authRefused: { status: number; code: string; message: string };
  notice: { type: string; code: number; message: string };
  error: { message: string };
  /** The relay refused a pending upload for good (e.g. `type_not_allowed`,
   *  `attachment_too_large`): it is dropped, no message is written. */
  uploadFailed: { id: string; name: string; status: number; code: string; message: string };
  /** The conversation rolled over (PROTOCOL.md section 16): `messages()` now holds the new
   *  epoch's live part, with this device's unacknowledged messages rewritten into it;
   *  earlier ones come from `history()`. */
  moved: { from: number; to: number; rewritten: number };
}

/** A page of the sealed history, oldest first; `before` pages further back (null: the start). */
export interface HistoryPage { epoch: number; messages: ChatMessage[]; before: string | null }

export interface ChatClient {
  /** Listens to one kind of event; returns the function that stops listening. */
  on<K extends keyof ChatEvents>(type: K, listener: (event: ChatEvents[K]) => void): () => void;
}

export interface InboxOptions { baseUrl: string; workspace: string; token: string; device: string }

/** A conversation as the inbox lists it (PROTOCOL.md section 15). */
export interface Summary {
  conversation: string;
  version: number;
  status: StatusState;
  priority: Priority;
  assignee: string | null;
  team: string | null;
  tags: string[];
  channel: string;
  language: string | null;
  visitor_name: string | null;
  vip: boolean;
  unread: number;
  waiting_since: number | null;
  last_message_at: number | null;
  last_preview: string | null;
  /** Who wrote the previewed message; `server` marks an auto-reply. */
  last_preview_role?: Role;
  /** The visitor's satisfaction rating, once given. */
  rating?: { score: number; comment: string | null };
  /** The visitor's participant id (list their conversations with `visitor`). */
  visitor?: string;
  /** The visitor token's custom attributes; the widget adds `page_url` and `referrer`. */
  attributes?: Record<string, string>;
  created_at: number;
  messages: number;
  snoozed_until?: number;
}

/** The list query; arrays are sent as comma lists. */
export interface InboxQuery {
  status?: StatusState | StatusState[];
  tag?: string;
  assignee?: "me" | "unassigned" | string;
  team?: string;
  priority?: Priority | Priority[];
  unread?: boolean;
  channel?: string;
  /** Only this visitor's conversations. */
  visitor?: string;
  since?: number;
  until?: number;
  sort?: "priority" | "waiting" | "activity";
  limit?: number;
  cursor?: string | null;
}

export interface InboxPage { items: Summary[]; nextCursor: string | null }
export interface SearchHit {
  conversation: string;
  message: string | null;
  field: string;
  at: number;
  highlight: { text: string; hit: boolean }[];
  exact: boolean;
}

export interface InboxEvents {
  change: undefined;
  summary: Summary;
  removed: string;
  presence: { agent: string; state: "online" | "away" | "offline" };
  backlog: Summary[];
  connection: ConnectionEvent;
  /** `code` is the relay's error code when the relay closed the socket (PROTOCOL.md §15),
   *  e.g. `account_disabled`. */
  error: { message: string; code?: string };
}

export interface InboxClient {
  on<K extends keyof InboxEvents>(type: K, listener: (event: InboxEvents[K]) => void): () => void;
}

export interface WidgetSession {
  token: string;
  workspace: string;
  conversation: string;
  subject: string;
  /** Seconds since the epoch: renew before then. */
  expiresAt: number;
}
"#;
