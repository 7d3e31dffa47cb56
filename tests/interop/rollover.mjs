// PROTOCOL.md §16 from outside: a client written from PROTOCOL.md alone, on the official JS
// Automerge (the peer bench's client, tests/peer-bench/edgedesk-client.mjs), moves between
// epochs as §16.2 says. The relay runs with EDGEDESK_ROLLOVER_MESSAGES=10 (tests/e2e/interop.rs).
//
// A visitor writes 30 messages offline into a replica of epoch 0; an agent then writes 25 online,
// one at a time, which rolls the conversation over at least twice (the agent moves too). The
// visitor connects, is refused with 4409, reads its epoch's segment, rewrites what is not in it,
// reconnects: every message is stored exactly once, each writer's in order.

import assert from "node:assert/strict";
import * as A from "@automerge/automerge";
import {
  Session,
  appendMessage,
  mintToken,
  newReplica,
  randomId,
  replicaWith,
  sealedHistory,
  unsentMessages,
} from "../peer-bench/edgedesk-client.mjs";

const baseUrl = process.env.EDGEDESK_URL;
const workspace = process.env.EDGEDESK_WORKSPACE;
const keys = process.env.EDGEDESK_JWT_KEYS;
const conversation = `js-rollover-${randomId().slice(0, 8)}`;
const WAIT = 30000;

function device(role, id, dev) {
  const claims = { workspace, sub: id, role, name: id, ...(role === "visitor" ? { conversation } : {}) };
  return { who: { role, id, name: id, device: dev }, token: mintToken(keys, claims), doc: newReplica(), epoch: 0 };
}

// §16.3: every sealed message (of segment `epoch` only, if given), oldest first, and the live
// epoch.
const allPages = (d, epoch = null) => sealedHistory({ baseUrl, workspace, conversation, token: d.token, epoch });

// §16.2 steps 1-4.
async function move(d, noticeEpoch) {
  const { messages, live } = await allPages(d, d.epoch);
  assert.equal(live, noticeEpoch, "the notice and the history agree on the live epoch");
  const unsent = unsentMessages(d.doc, d.who.device, new Set(messages.map((m) => m.id)));
  d.doc = replicaWith(unsent);
  d.epoch = live;
  return unsent.length;
}

// §16.2 step 2: this device's messages without a receipt.
const pending = (doc, who) => unsentMessages(doc, who.device, new Set());

// Connects until the relay acknowledged everything this device wrote, moving on 4409.
async function deliver(d) {
  let moves = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const s = await Session.open({ baseUrl, workspace, conversation, token: d.token, device: d.who.device, fast: true, doc: d.doc, epoch: d.epoch });
    try {
      await s.waitFor((doc) => pending(doc, d.who).length === 0, WAIT, "every receipt");
      d.doc = s.doc;
      s.close();
      return moves;
    } catch (e) {
      d.doc = s.doc;
      if (s.closeCode !== 4409) throw e;
      const notice = JSON.parse(s.notice);
      assert.equal(notice.type, "rollover");
      assert.equal(notice.code, 4409);
      await move(d, notice.epoch);
      moves++;
    }
  }
  throw new Error("never delivered");
}

const visitor = device("visitor", "v-js", "js-phone");
const agent = device("agent", "agent-js", "js-desk");
const mine = [];
for (let i = 0; i < 30; i++) {
  let id;
  [visitor.doc, id] = appendMessage(visitor.doc, visitor.who, `离线 ${i} offline`);
  mine.push(id);
}
const theirs = [];
let agentMoves = 0;
for (let i = 0; i < 25; i++) {
  let id;
  [agent.doc, id] = appendMessage(agent.doc, agent.who, `reply ${i}`);
  theirs.push(id);
  agentMoves += await deliver(agent);
}
assert.ok(agent.epoch >= 2, `the agent's writes rolled the conversation over twice (epoch ${agent.epoch})`);
const visitorMoves = await deliver(visitor);
assert.ok(visitorMoves >= 1, "the visitor moved from epoch 0");

// Everything: sealed pages, then the live document as a fresh replica of the live epoch sees it.
const { messages: sealed, live } = await allPages(agent);
const reader = await Session.open({ baseUrl, workspace, conversation, token: agent.token, device: "js-reader", fast: false, doc: newReplica(), epoch: live });
await reader.waitFor((doc) => A.getHeads(doc).length > 0 && reader.theirHeads.length > 0 && reader.theirHeads.every((h) => A.getHeads(doc).includes(h)), WAIT, "the live document");
reader.close();
const ids = [...sealed.map((m) => m.id), ...reader.doc.messages.map((m) => String(m.id))];
assert.equal(new Set(ids).size, ids.length, "no message twice");
assert.deepEqual(ids.filter((id) => mine.includes(id)), mine, "the visitor's 30, once, in order");
assert.deepEqual(ids.filter((id) => theirs.includes(id)), theirs, "the agent's 25, once, in order");
console.log(`interop rollover: ${ids.length} messages over epochs 0..${live}; agent moved ${agentMoves} times, visitor ${visitorMoves}`);
