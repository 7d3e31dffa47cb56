// The automerge-repo side of the peer bench: client devices that are automerge-repo Repos
// with the WebSocket client adapter, one socket each, on a document shaped like edgedesk's
// (the same §10 schema change and the same message maps, from edgedesk-client.mjs).
//
// "The server confirms" a write here = the server's sync state holds our heads: a Repo
// records, per peer storage id, the heads that peer announced in its latest sync message
// (DocHandle.getRemoteHeads(storageId), updated with a "remote-heads" event). The server
// answers each sync message from a client at once, with its heads after applying it, so
// the write is confirmed when every head of our document is among the server's. (One writer
// per document in this bench, so our heads are the server's heads.) Unlike edgedesk's
// receipt, this says the server holds the change in memory: NodeFSStorageAdapter writes it
// to disk afterwards (throttled, 100 ms; writeFile without fsync).

import WebSocket from "ws";
import { loadRepo } from "./repo-tuning.mjs";
import { messageFields, randomId } from "./edgedesk-client.mjs";

let lib;
// Loads automerge-repo with its per-document sync throttle at `syncThrottleMs` (repo-tuning.mjs).
export async function initRepo(syncThrottleMs) {
  lib = await loadRepo(syncThrottleMs);
}

const until = (emitter, event, pred, timeoutMs, what) =>
  new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const on = () => {
      if (!pred()) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`automerge-repo: no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, on);
  });

export class RepoDevice {
  // A Repo connected to the sync server at ws://127.0.0.1:port, once the server is its peer.
  static async open(port, timeoutMs = 30000) {
    const d = new RepoDevice();
    d.bytesIn = 0;
    d.adapter = new lib.WebSocketClientAdapter(`ws://127.0.0.1:${port}`);
    const receive = d.adapter.receiveMessage.bind(d.adapter);
    d.adapter.receiveMessage = (bytes) => {
      d.bytesIn += bytes.byteLength;
      receive(bytes);
    };
    d.repo = new lib.Repo({ network: [d.adapter], peerId: `client-${randomId()}`, sharePolicy: async () => true });
    const deadline = Date.now() + timeoutMs;
    while (!d.serverStorageId()) {
      if (Date.now() > deadline) throw new Error(`automerge-repo: server on port ${port} not a peer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return d;
  }

  serverStorageId() {
    const peer = this.repo.peers[0];
    return peer && this.repo.getStorageIdOfPeer(peer);
  }

  // A new document holding `bytes` (a saved Automerge document), announced to the server.
  import(bytes) {
    return this.repo.import(bytes);
  }

  async find(url, count, timeoutMs) {
    const handle = await this.repo.find(url);
    await until(handle, "change", () => handle.doc().messages.length >= count, timeoutMs, `${count} messages`);
    return handle;
  }

  // One message, one change; resolves with its id.
  append(handle, who, body) {
    const id = randomId();
    handle.change((d) => {
      d.messages.insertAt(d.messages.length, messageFields(who, id, body));
    });
    return id;
  }

  // The server announced heads that include all of ours (see the top of this file).
  confirmed(handle, timeoutMs) {
    const want = handle.heads();
    const sid = this.serverStorageId();
    const ok = () => {
      const got = handle.getRemoteHeads(sid);
      return Boolean(got) && want.every((h) => got.includes(h));
    };
    return until(handle, "remote-heads", ok, timeoutMs, "server heads with our change");
  }

  arrived(handle, id, timeoutMs) {
    const last = () => {
      const m = handle.doc().messages;
      return String(m[m.length - 1]?.id) === id;
    };
    return until(handle, "change", last, timeoutMs, `message ${id}`);
  }

  async close() {
    await this.repo.shutdown();
  }
}

// Tries a WebSocket to the server every 10 ms until one opens: the restart row's
// "first socket open" (edgedesk's side tries as often).
export async function firstSocketOpen(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const opened = await new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      ws.on("open", () => {
        ws.terminate();
        resolve(true);
      });
      ws.on("error", () => resolve(false));
    });
    if (opened) return;
    if (Date.now() > deadline) throw new Error(`automerge-repo: no socket open within ${timeoutMs} ms of the restart`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
