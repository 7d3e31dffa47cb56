// A minimal edgedesk client written from PROTOCOL.md only (no code from core/ or client-sdk/):
// what a third-party developer with @automerge/automerge 3.x would write. Section numbers
// below are PROTOCOL.md's.
//
//   token   §2.1  HS256 JWT minted with node:crypto
//   socket  §2.3  /v1/workspaces/{ws}/conversations/{id}/connect?device=…&access_token=…[&caps=changes]
//   frames  §4/§5 one binary frame per WebSocket message: type byte (bit 7 = MORE) + payload
//   sync    §6.1  a fresh sync state per connection, our first sync message sent at once
//   acks    §6.2  a message is confirmed once `delivered[id]` is in our replica
//   fast    §6.3  ChangesShared (0x05) once both sides hold the same heads (caps=changes only)
//   doc     §8.2  one change per message, every string an ImmutableString (§8.5)
//   schema  §10   every replica starts from the same schema change (applied from its bytes)
//   epochs  §16   `epoch` names the replica's epoch; a 4409 close leaves `closeCode` and the
//                 rollover `notice` for the caller to move (tests/interop/rollover.mjs)

import * as A from "@automerge/automerge";
import { createHmac, randomBytes } from "node:crypto";
import WebSocket from "ws";

// §10: the encoded schema change (106 bytes), hash 4d3af7ac….
export const SCHEMA_CHANGE = Buffer.from(
  "856f4a834d3af7ac01600010656467656465736b2e736368656d6131010100000006152f340142055604570170027a" +
    "06736368656d61086d657373616765730964656c6976657265640472656164067374617475730770726f66696c65" +
    "067e010204007f140500010600",
  "hex",
);

// §5 frame types; §4 MORE bit and fragment size.
const SYNC_SHARED = 0x01;
const NOTICE = 0x04;
const CHANGES_SHARED = 0x05;
const MORE = 0x80;
const MAX_FRAME_PAYLOAD = 262144;

// §2.1: header {"alg":"HS256","kid":…}; claims workspace, sub, role, conversation (visitors),
// name, exp. `keySpec` is the first entry of EDGEDESK_JWT_KEYS: "kid:base64url-secret".
export function mintToken(keySpec, claims, ttlSeconds = 3600) {
  const first = keySpec.split(",")[0].trim();
  const colon = first.indexOf(":");
  if (colon <= 0) throw new Error("the JWT key must look like kid:base64url-secret");
  const kid = first.slice(0, colon);
  const secret = Buffer.from(first.slice(colon + 1), "base64url");
  const now = Math.floor(Date.now() / 1000);
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const input = `${b64({ alg: "HS256", typ: "JWT", kid })}.${b64({ ...claims, iat: now, exp: now + ttlSeconds })}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

// §3: message ids are 24 lowercase hex characters (96 random bits) in the reference client.
export const randomId = () => randomBytes(12).toString("hex");

// §10 "Build it": a fresh actor (A.init's random one) with the schema change applied.
export function newReplica() {
  const [doc] = A.applyChanges(A.init(), [SCHEMA_CHANGE]);
  return doc;
}

// §8.2/§8.5: a message's fields, every string wrapped, sent_at an integer (stored as int).
// `who` = { role, id, name, device } as the token says (§8.6 rule forged-author).
export function messageFields(who, id, body) {
  const S = (s) => new A.ImmutableString(s);
  return {
    id: S(id),
    author: { role: S(who.role), id: S(who.id), name: S(who.name) },
    device: S(who.device),
    kind: S("text"),
    body: S(body),
    sent_at: Date.now(),
  };
}

// §8.2: append at index = length, all fields in one change. Returns [doc, id].
export function appendMessage(doc, who, body) {
  const id = randomId();
  const next = A.change(doc, (d) => {
    d.messages.insertAt(d.messages.length, messageFields(who, id, body));
  });
  return [next, id];
}

// §16.3: every sealed message, oldest first (of segment `epoch` only, if given), the live
// epoch, and the bytes of the pages' bodies. `token` is any participant's.
export async function sealedHistory({ baseUrl, workspace, conversation, token, epoch = null }) {
  let messages = [];
  let before = null;
  let bytes = 0;
  for (;;) {
    const query = `${epoch === null ? "" : `epoch=${epoch}&`}limit=500${before ? `&before=${before}` : ""}`;
    const url = `${baseUrl}/v1/workspaces/${workspace}/conversations/${conversation}/history?${query}`;
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`GET history?${query}: ${r.status} ${text}`);
    bytes += Buffer.byteLength(text);
    const page = JSON.parse(text);
    messages = [...page.messages, ...messages];
    before = page.before;
    if (!before) return { messages, live: page.epoch, bytes };
  }
}

// §16.2 step 2: `device`'s messages in `doc` without a receipt whose ids are not in `sealed`.
export const unsentMessages = (doc, device, sealed) =>
  doc.messages.filter(
    (m) => String(m.device) === device && doc.delivered[String(m.id)] === undefined && !sealed.has(String(m.id)),
  );

// §16.2 step 3: a new replica holding `messages` (from an old replica or a history page), each
// appended as in §8.2 with its original fields, one change each.
export function replicaWith(messages) {
  const S = (s) => new A.ImmutableString(String(s));
  let next = newReplica();
  for (const m of messages) {
    next = A.change(next, (doc) => {
      doc.messages.insertAt(doc.messages.length, {
        id: S(m.id),
        author: { role: S(m.author.role), id: S(m.author.id), name: S(m.author.name) },
        device: S(m.device),
        kind: S(m.kind),
        body: S(m.body),
        sent_at: Number(m.sent_at),
      });
    });
  }
  return next;
}

const sameSet = (a, b) => a.length === b.length && a.every((h) => b.includes(h));

// One device's connection to one conversation (§6). `doc` is the replica to start from.
export class Session {
  constructor({ baseUrl, workspace, conversation, token, device, fast, doc, epoch }) {
    this.url = `${baseUrl.replace(/^http/, "ws")}/v1/workspaces/${workspace}/conversations/${conversation}/connect?device=${encodeURIComponent(device)}&access_token=${encodeURIComponent(token)}${fast ? "&caps=changes" : ""}${epoch ? `&epoch=${epoch}` : ""}`;
    this.fast = Boolean(fast);
    this.doc = doc ?? newReplica();
    this.syncState = A.initSyncState(); // §6.1: fresh per connection
    this.peerHas = null; // §6.3: what the relay is known to hold, or null off the fast path
    this.theirHeads = []; // heads of the relay's latest SyncShared
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.parts = []; // §4: fragments of an incomplete message
    this.partsType = 0;
    this.waiters = new Set();
    this.closed = null; // why the socket is gone, once it is
  }

  // Opens the socket; rejects with the relay's status and `x-edgedesk-error` on a refusal.
  static open(opts, timeoutMs = 30000) {
    const s = new Session(opts);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(s.url, { perMessageDeflate: false });
      s.ws = ws;
      ws.binaryType = "nodebuffer";
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`edgedesk: no socket open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.on("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () =>
          reject(new Error(`edgedesk refused the socket: HTTP ${res.statusCode} ${res.headers["x-edgedesk-error"] ?? ""} ${body}`)),
        );
      });
      ws.on("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`edgedesk socket error: ${e.message}`));
      });
      ws.on("open", () => {
        clearTimeout(timer);
        ws.on("message", (data, isBinary) => {
          try {
            s.#onMessage(data, isBinary);
          } catch (e) {
            s.#onClose(1002, `client could not apply a frame: ${e.message}`);
            ws.terminate();
          }
        });
        ws.on("close", (code, reason) => s.#onClose(code, String(reason)));
        s.#syncOut(); // §6.1 step 1: our first sync message at once
        resolve(s);
      });
    });
  }

  // §8.2 write, then send it. Returns the new message's id.
  append(who, body) {
    let id;
    [this.doc, id] = appendMessage(this.doc, who, body);
    this.#pushLocal();
    return id;
  }

  // Changes written earlier, offline (a backlog uploaded in parts): apply them, send them.
  addChanges(changes) {
    [this.doc] = A.applyChanges(this.doc, changes);
    this.#pushLocal();
  }

  // §6.1 step 3, or §6.3 rule 2 while on the fast path.
  #pushLocal() {
    if (this.peerHas) {
      this.#send(CHANGES_SHARED, A.saveSince(this.doc, this.peerHas));
      this.peerHas = A.getHeads(this.doc);
    } else {
      this.#syncOut();
    }
  }

  // §6.2: the relay's receipt for message `id` is in our replica.
  confirmed(id, timeoutMs) {
    return this.waitFor((doc) => doc.delivered[id] !== undefined, timeoutMs, `receipt for ${id}`);
  }

  // Message `id` is the last one of our replica (another device wrote it).
  arrived(id, timeoutMs) {
    return this.waitFor((doc) => String(doc.messages[doc.messages.length - 1]?.id) === id, timeoutMs, `message ${id}`);
  }

  // In sync (§6.1): the relay announced our heads and we hold `count` messages.
  synced(count, timeoutMs) {
    return this.waitFor(
      (doc) => doc.messages.length >= count && sameSet(this.theirHeads, A.getHeads(doc)),
      timeoutMs,
      `sync of ${count} messages`,
    );
  }

  // Resolves once `pred(doc)` holds (checked now and after every frame applied); rejects on
  // timeout or when the socket closes.
  waitFor(pred, timeoutMs, what) {
    if (pred(this.doc)) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`edgedesk: ${what}: ${this.closed}`));
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, what };
      w.reject = (e) => {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        reject(e);
      };
      w.timer = setTimeout(() => w.reject(new Error(`edgedesk: no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(w);
    });
  }

  close() {
    this.ws?.close(1000);
  }

  #check() {
    for (const w of this.waiters) {
      if (w.pred(this.doc)) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  #onClose(code, reason) {
    if (this.closed) return;
    this.closeCode = code;
    this.closed = `socket closed ${code} ${reason}${this.notice ? ` (notice ${this.notice})` : ""}`;
    for (const w of this.waiters) w.reject(new Error(`edgedesk: ${w.what}: ${this.closed}`));
  }

  // §4: reassemble fragments, then dispatch on the type byte.
  #onMessage(data, isBinary) {
    this.bytesIn += data.length;
    if (!isBinary || data.length === 0) throw new Error("edgedesk: relay sent a text or empty message");
    const type = data[0] & 0x7f;
    if (this.parts.length && type !== this.partsType) throw new Error("edgedesk: interleaved fragments");
    this.parts.push(data.subarray(1));
    this.partsType = type;
    if (data[0] & MORE) return;
    const payload = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    if (type === SYNC_SHARED) this.#onSync(new Uint8Array(payload));
    else if (type === CHANGES_SHARED) this.#onChanges(new Uint8Array(payload));
    else if (type === NOTICE) this.notice = payload.toString("utf8");
    // Ephemeral (0x03) is not used here; a visitor never gets internal-document frames (§5).
    this.#check();
  }

  // §6.1 step 2 and §6.3 rule 1.
  #onSync(msg) {
    [this.doc, this.syncState] = A.receiveSyncMessage(this.doc, this.syncState, msg);
    this.theirHeads = A.decodeSyncMessage(msg).heads;
    const ours = A.getHeads(this.doc);
    this.peerHas = this.fast && sameSet(this.theirHeads, ours) ? ours : null;
    this.#syncOut();
  }

  // §6.3 rules 3 and 4. Rule 3 adds the received changes' hashes to peerHas; this client
  // sends every local change as soon as it makes it, so whenever a frame arrives the relay
  // holds everything we hold, and "peerHas + received" is simply our heads after applying.
  #onChanges(chunks) {
    this.doc = A.loadIncremental(this.doc, chunks);
    if (A.getMissingDeps(this.doc, []).length === 0) {
      if (this.peerHas) this.peerHas = A.getHeads(this.doc);
    } else {
      this.peerHas = null;
      this.syncState = A.initSyncState();
      this.#syncOut();
    }
  }

  #syncOut() {
    const [state, msg] = A.generateSyncMessage(this.doc, this.syncState);
    this.syncState = state;
    if (msg) this.#send(SYNC_SHARED, msg);
  }

  // §4: payloads over 256 KiB go out as fragments of the same type, MORE on all but the last.
  #send(type, payload) {
    for (let at = 0; at === 0 || at < payload.length; at += MAX_FRAME_PAYLOAD) {
      const piece = payload.subarray(at, at + MAX_FRAME_PAYLOAD);
      const frame = Buffer.allocUnsafe(piece.length + 1);
      frame[0] = type | (at + MAX_FRAME_PAYLOAD < payload.length ? MORE : 0);
      frame.set(piece, 1);
      this.bytesOut += frame.length;
      this.ws.send(frame, { binary: true });
    }
  }
}
