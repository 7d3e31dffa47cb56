// The two systems behind one interface, so workloads.mjs runs the same code against both:
//
//   openWriter(label, bytes?, fast?) → writer on a new conversation (from saved document
//                                      bytes, or from the §10 schema change alone)
//   reopenWriter(writer, fast)       → a new connection of the same device and replica
//   openReader(conv, count)          → another device, synced until it holds `count` messages
//                                      (edgedesk with rollover: sealed history pages + live epoch)
//   cpuSeconds(), diskBytes()        → the server's CPU time so far, its whole state directory
//   dataBytes()                      → the same without SQLite's journals (proc.mjs isJournal)
//   proxyCpuSeconds()                → edgedesk only: wrangler dev's node process and proxy
//   restart(conv)                    → kill -9, start again: ms until a socket opens (or null)
//   edgedesk only: openWriters(label, k) → k devices on one new conversation; health() → ms
//   until GET /health answers; firstSync(label) → ms until a device of a new conversation is
//   in sync
//
// A writer: { conv, append(body) → id, confirmed(id), close() }; a reader: { arrived(id),
// bytesIn, close() }. Every wait is bounded by `timeoutMs` and rejects with what it waited for.

import * as A from "@automerge/automerge";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Session, mintToken, newReplica, randomId, replicaWith, sealedHistory, unsentMessages } from "./edgedesk-client.mjs";
import { RepoDevice, firstSocketOpen, initRepo } from "./repo-client.mjs";
import { cpuSeconds, dirBytes, isJournal, workerdPids } from "./proc.mjs";

// Every message in the bench is written by this visitor (one writing device per conversation).
export const WRITER = { role: "visitor", id: "visitor-1", name: "Visitor One", device: "d-writer" };

// ---- edgedesk (wrangler dev / workerd) -------------------------------------------------------

export function edgedeskDriver({ baseUrl, key, workspace, stateDir, timeoutMs, restartVia, bulkBatch, rollover = 0 }) {
  const port = Number(new URL(baseUrl).port);
  let pids = workerdPids(stateDir, port);
  const token = (conv, sub) =>
    mintToken(key, { workspace, sub, role: "visitor", conversation: conv, name: WRITER.name });
  const connect = (conv, device, fast, doc, epoch = 0) =>
    Session.open({ baseUrl, workspace, conversation: conv, token: token(conv, WRITER.id), device, fast, doc, epoch }, timeoutMs);
  const history = (conv, epoch = null) =>
    sealedHistory({ baseUrl, workspace, conversation: conv, token: token(conv, WRITER.id), epoch });
  // A device of epoch `epoch` (§16). When the relay rolls the conversation over, its socket
  // closes with 4409 and the device moves as §16.2 says (`moveOn`): what the sealed segment
  // holds is stored (`sealed`), the rest is written again into a replica of the live epoch.
  const writer = (conv, s, who = WRITER, epoch = 0, sealed = new Set()) => {
    const w = {
      conv,
      session: s,
      epoch,
      sealed,
      append: (body) => w.session.append(who, body),
      confirmed: (id) => w.across((s) => s.confirmed(id, timeoutMs), id),
      allConfirmed: (n, ms) =>
        w.across((s) => s.waitFor((d) => w.sealed.size + Object.keys(d.delivered).length >= n, ms, `${n} receipts`)),
      // Waits for `wait(session)`, moving on at every rollover; message `id`, if given, is
      // also there once its segment holds it.
      async across(wait, id) {
        for (;;) {
          try {
            return await wait(w.session);
          } catch (e) {
            if (!(await w.moveOn())) throw e;
            if (id !== undefined && w.sealed.has(id)) return;
          }
        }
      },
      // False if the socket did not close for a rollover.
      async moveOn() {
        const s = w.session;
        if (s.closeCode !== 4409) return false;
        const { messages, live } = await history(conv, w.epoch);
        for (const m of messages) w.sealed.add(m.id);
        const doc = replicaWith(unsentMessages(s.doc, who.device, w.sealed));
        w.epoch = live;
        w.session = await connect(conv, who.device, s.fast, doc, live);
        return true;
      },
      close: () => w.session.close(),
    };
    return w;
  };
  // With rollover, each epoch's part of a backlog is a replica of its own (§16.2 step 3: the
  // schema change, then its messages), made once per backlog before anything is timed.
  const parts = new WeakMap();
  const partsOf = (bytes) => {
    if (!parts.has(bytes)) {
      const messages = A.load(bytes).messages;
      const out = [];
      for (let at = 0; at < messages.length; at += rollover) out.push(A.save(replicaWith(messages.slice(at, at + rollover))));
      parts.set(bytes, out);
    }
    return parts.get(bytes);
  };
  // Uploads `parts` (one replica per epoch) and returns the writer of the last epoch.
  async function uploadByEpoch(conv, parts, fast) {
    let epoch = 0;
    const sealed = new Set();
    for (const [i, bytes] of parts.entries()) {
      const doc = A.load(bytes);
      const s = await connect(conv, WRITER.device, fast, doc, epoch);
      const count = doc.messages.length;
      if (i === parts.length - 1 && count < rollover) {
        const w = writer(conv, s, WRITER, epoch, sealed);
        await w.allConfirmed(sealed.size + count, timeoutMs + count * 20);
        return w;
      }
      // A full part fills the live document: the relay seals it and closes with 4409.
      await s.waitFor(() => false, timeoutMs + count * 20, `the seal of epoch ${epoch}`).catch((e) => {
        if (s.closeCode !== 4409) throw e;
      });
      const { messages, live } = await history(conv, epoch);
      for (const m of messages) sealed.add(m.id);
      if (messages.length < count) throw new Error(`edgedesk: segment ${epoch} holds ${messages.length} of ${count} messages`);
      epoch = live;
    }
    return writer(conv, await connect(conv, WRITER.device, fast, newReplica(), epoch), WRITER, epoch, sealed);
  }
  return {
    name: "edgedesk",
    // What another process needs to make the same driver (probe.mjs).
    config: { baseUrl, key, workspace, stateDir, timeoutMs, rollover },
    prepare(prefills) {
      if (rollover > 0) for (const bytes of prefills.values()) partsOf(bytes);
    },
    // A backlog of more than `bulkBatch` messages goes up in parts of that many (one sync
    // message each), each part confirmed before the next: the relay takes at most 8 MiB
    // per client message (§3), and 10k messages make a ~4 MB sync message. With rollover,
    // one part per epoch: each part that fills the live document is sealed and answered with
    // 4409, and the next goes up as the next epoch's replica.
    async openWriter(label, bytes, fast = false) {
      const conv = `${label}-${randomId().slice(0, 8)}`;
      if (bytes && rollover > 0) return uploadByEpoch(conv, partsOf(bytes), fast);
      const doc = bytes ? A.load(bytes) : newReplica();
      if (doc.messages.length <= bulkBatch) return writer(conv, await connect(conv, WRITER.device, fast, doc));
      const changes = A.getAllChanges(doc);
      const [first] = A.applyChanges(A.init(), changes.slice(0, 1 + bulkBatch)); // §10 schema + part 1
      const s = await connect(conv, WRITER.device, fast, first);
      const w = writer(conv, s);
      for (let at = 1 + bulkBatch; ; at += bulkBatch) {
        await w.allConfirmed(at - 1, timeoutMs + bulkBatch * 20);
        if (at >= changes.length) return w;
        s.addChanges(changes.slice(at, at + bulkBatch));
      }
    },
    async reopenWriter(w, fast) {
      w.close();
      // A.clone gives the reopened replica a fresh actor (§10: a fresh actor per opening).
      const s = await connect(w.conv, WRITER.device, fast, A.clone(w.session.doc), w.epoch);
      return writer(w.conv, s, WRITER, w.epoch, w.sealed);
    },
    // With rollover, the device reads the sealed history first (§16.3) and then syncs the live
    // epoch; its bytes are both. A rollover while it reads moves it like a writer with nothing
    // unsent.
    async openReader(conv, count) {
      const device = `d-reader-${randomId().slice(0, 6)}`;
      const sealed = rollover > 0 ? await history(conv) : { messages: [], live: 0, bytes: 0 };
      const s = await connect(conv, device, false, newReplica(), sealed.live);
      const live = count - sealed.messages.length;
      await s.synced(live, timeoutMs + count * 10);
      const r = writer(conv, s, { ...WRITER, device }, sealed.live);
      return {
        bytesIn: () => r.session.bytesIn + sealed.bytes,
        historyBytes: () => sealed.bytes,
        arrived: (id) => r.across((s) => s.arrived(id, timeoutMs), id),
        close: () => r.close(),
      };
    },
    // `k` devices writing into one new conversation, each from the §10 schema alone; `fast`:
    // with caps=changes (§6.3), else the sync protocol only.
    async openWriters(label, k, fast) {
      const conv = `${label}-${randomId().slice(0, 8)}`;
      const out = [];
      for (let i = 0; i < k; i++) {
        const who = { ...WRITER, device: `d-writer-${i}` };
        out.push(writer(conv, await connect(conv, who.device, fast, newReplica()), who));
      }
      return out;
    },
    // ms until GET /health answers 200.
    async health() {
      const t = performance.now();
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`/health answered ${res.status}`);
      return performance.now() - t;
    },
    // ms until a device of a conversation nobody opened before is in sync (§6.1).
    async firstSync(label) {
      const t = performance.now();
      const conv = `${label}-${randomId().slice(0, 8)}`;
      const s = await connect(conv, `d-reader-${randomId().slice(0, 6)}`, false, newReplica());
      await s.synced(0, timeoutMs);
      const ms = performance.now() - t;
      s.close();
      return ms;
    },
    cpuSeconds: () => cpuSeconds(pids.worker),
    proxyCpuSeconds: () => cpuSeconds(pids.proxy),
    diskBytes: () => dirBytes(stateDir),
    dataBytes: () => dirBytes(stateDir, (name) => !isJournal(name)),
    async restart(conv) {
      if (!restartVia) return null;
      const killedAt = await restartVia.kill();
      const deadline = Date.now() + 180000;
      // First until the runtime answers at all (wrangler dev, both workerd processes and the
      // Worker's script up), then until the conversation's object has opened a socket.
      for (;;) {
        const up = await this.health().then(
          () => true,
          () => false,
        );
        if (up) break;
        if (Date.now() > deadline) throw new Error("edgedesk: /health not answering within 180 s of the restart");
        await new Promise((r) => setTimeout(r, 10));
      }
      this.restartHealthMs = Date.now() - killedAt;
      for (;;) {
        try {
          const s = await connect(conv, `d-probe-${randomId().slice(0, 6)}`, false, newReplica());
          s.close();
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`edgedesk: no socket open within 180 s of the restart: ${e.message}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      const ms = Date.now() - killedAt;
      await restartVia.ready();
      pids = workerdPids(stateDir, port);
      return ms;
    },
  };
}

// Asks the Rust side (peer_bench) to kill -9 and restart the relay: a line on stdout, then
// "KILLED <epoch ms>" and "RESTARTED" lines on stdin.
// `onGone` runs if stdin closes first (peer_bench exited, e.g. the relay did not restart).
export function stdioRestarter(onGone) {
  const lines = [];
  const waiting = [];
  let closing = false;
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (l) => (waiting.length ? waiting.shift()(l) : lines.push(l)));
  rl.on("close", () => {
    waiting.splice(0).forEach((w) => w(null));
    if (!closing) onGone();
  });
  const next = async (prefix) => {
    const line = lines.length ? lines.shift() : await new Promise((r) => waiting.push(r));
    if (line === null || !line.startsWith(prefix)) throw new Error(`peer_bench: expected ${prefix} on stdin, got ${line}`);
    return line;
  };
  return {
    async kill() {
      process.stdout.write("PEER-BENCH RESTART-EDGEDESK\n");
      return Number((await next("KILLED ")).split(" ")[1]);
    },
    ready: () => next("RESTARTED"),
    close: () => {
      closing = true;
      rl.close();
    },
  };
}

// ---- automerge-repo sync server (repo-server.mjs) -------------------------------------------

const SERVER = fileURLToPath(new URL("./repo-server.mjs", import.meta.url));

function startServer(dir, port, syncThrottleMs) {
  const child = spawn(process.execPath, [SERVER, "--dir", dir, "--port", String(port), "--sync-throttle", String(syncThrottleMs)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("repo-server: not listening within 60 s")), 60000);
    let listening = false;
    child.on("exit", (code, signal) => {
      const why = `repo-server exited (${code ?? signal})`;
      if (listening) process.stdout.write(`${why} during the run; the next wait will fail\n`);
      else reject(new Error(why));
    });
    child.stdout.on("data", (d) => {
      const m = /LISTENING (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        listening = true;
        resolve({ child, port: Number(m[1]) });
      }
    });
  });
}

export async function repoDriver({ dir, timeoutMs, syncThrottleMs }) {
  await initRepo(syncThrottleMs);
  let server = await startServer(dir, 0, syncThrottleMs);
  const writer = (device, handle) => ({
    conv: handle.url,
    device,
    handle,
    append: (body) => device.append(handle, WRITER, body),
    confirmed: () => device.confirmed(handle, timeoutMs),
    allConfirmed: (_n, ms) => device.confirmed(handle, ms),
    close: () => device.close(),
  });
  return {
    name: "automerge-repo",
    async openWriter(_label, bytes) {
      const device = await RepoDevice.open(server.port, timeoutMs);
      return writer(device, device.import(bytes ?? A.save(newReplica())));
    },
    async reopenWriter(w) {
      const count = w.handle.doc().messages.length;
      await w.close();
      const device = await RepoDevice.open(server.port, timeoutMs);
      return writer(device, await device.find(w.conv, count, timeoutMs + count * 10));
    },
    async openReader(conv, count) {
      const device = await RepoDevice.open(server.port, timeoutMs);
      const handle = await device.find(conv, count, timeoutMs + count * 10);
      return { bytesIn: () => device.bytesIn, arrived: (id) => device.arrived(handle, id, timeoutMs), close: () => device.close() };
    },
    cpuSeconds: () => cpuSeconds([server.child.pid]),
    diskBytes: () => dirBytes(dir),
    dataBytes: () => dirBytes(dir),
    async restart() {
      const port = server.port;
      const killedAt = Date.now();
      server.child.removeAllListeners("exit");
      const exited = new Promise((r) => server.child.once("exit", r));
      server.child.kill("SIGKILL");
      await exited; // as the Rust side reaps wrangler before reporting KILLED
      const started = startServer(dir, port, syncThrottleMs);
      const failed = started.then(() => new Promise(() => {})); // settles only if the start fails
      await Promise.race([firstSocketOpen(port, 180000), failed]);
      const ms = Date.now() - killedAt;
      server = await started;
      return ms;
    },
    stop() {
      server.child.removeAllListeners("exit");
      server.child.kill("SIGKILL");
    },
  };
}
