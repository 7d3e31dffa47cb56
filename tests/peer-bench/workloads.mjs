// One round of the peer bench against one system (a driver of drivers.mjs). Both systems
// run exactly this code; only the driver differs. Returns { figure key: number | null }.
//
// Order: an empty conversation; per size N a bulk upload, three passes of sequential appends
// (sync, "fast", and with a second device reading); 20 writers in parallel; kill -9 and
// restart; a fresh device syncing each large conversation (which also checks that nothing
// confirmed was lost); the state directory's size.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const body = (i) => `Hello, I have a question about order #${i}. 你好，请问退款什么时候到账？`;
const now = () => performance.now();
const pct = (sorted, p) => sorted[Math.round((sorted.length - 1) * p)];

// `n` appends, each waiting for the server's confirmation before the next; with a reader,
// also the time until the reader holds the message. Times in ms.
async function probe(w, n, reader) {
  const lat = [];
  const del = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    const id = w.append(body(i));
    const arrived = reader?.arrived(id).then(() => del.push(now() - t));
    await w.confirmed(id);
    lat.push(now() - t);
    await arrived;
  }
  lat.sort((a, b) => a - b);
  del.sort((a, b) => a - b);
  return { p50: pct(lat, 0.5), p99: pct(lat, 0.99), del50: del.length ? pct(del, 0.5) : null };
}

// Runs `fn`, returns [its result, the server's CPU ms per message over `messages`].
async function withCpu(d, messages, fn) {
  const before = d.cpuSeconds();
  const result = await fn();
  return [result, ((d.cpuSeconds() - before) * 1000) / messages];
}

// Issue 14, acceptance 6: while 5 devices write into one conversation as fast as their
// receipts allow, how long `/health` and a new conversation's first sync take (probed one
// after the other, 50 ms apart), and the longest any writer waited for a receipt. A probe
// or a receipt that never comes counts as the whole bound (`bound` ms) and ends that writer:
// the figure then reads "≥ bound" rather than failing the run.
// Runs probe.mjs for `ms` and returns its timings.
function probeElsewhere(driver, ms, bound) {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL("./probe.mjs", import.meta.url));
    const child = spawn(process.execPath, [script, JSON.stringify({ driver, ms, bound })], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`probe.mjs exited with ${code}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(new Error(`probe.mjs printed no timings: ${e.message}`));
      }
    });
  });
}

async function streamProbe(d, ms, fast, bound) {
  const writers = await d.openWriters(fast ? "stream-fast" : "stream", 5, fast);
  let stop = false;
  let sent = 0;
  let longest = 0;
  const streams = writers.map(async (w) => {
    for (let i = 0; !stop; i++) {
      const t = now();
      const id = w.append(body(i));
      const ok = await Promise.race([w.confirmed(id).then(() => true, () => false), sleep(bound).then(() => false)]);
      longest = Math.max(longest, ok ? now() - t : bound);
      if (!ok) return;
      sent++;
    }
  });
  // The probes run in a process of their own (probe.mjs): in this one the writers' receipts
  // keep the event loop busy, which an earlier version measured as the relay's slowness.
  const t0 = now();
  const { health, first } = await probeElsewhere(d.config, ms, bound);
  stop = true;
  await Promise.all(streams);
  const rate = sent / ((now() - t0) / 1000);
  for (const w of writers) await w.close();
  health.sort((a, b) => a - b);
  first.sort((a, b) => a - b);
  const k = fast ? "streamfast" : "stream";
  return {
    [`${k}.sent`]: sent,
    [`${k}.rate`]: rate,
    [`${k}.health.p50`]: pct(health, 0.5),
    [`${k}.health.p99`]: pct(health, 0.99),
    [`${k}.first.p50`]: pct(first, 0.5),
    [`${k}.first.p99`]: pct(first, 0.99),
    [`${k}.wait`]: longest,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref?.());

export async function runRound(d, cfg, prefills, totals, log) {
  const out = {};
  const P = cfg.probe;
  let written = 0;

  log(`${d.name}: ${P} appends into an empty conversation`);
  let w = await d.openWriter("empty");
  let r;
  [r, out["cpu.empty"]] = await withCpu(d, P, () => probe(w, P));
  out["empty.p50"] = r.p50;
  out["empty.p99"] = r.p99;
  await w.close();
  written += P;
  let lastConv = w.conv;

  const big = [];
  for (const n of cfg.sizes) {
    log(`${d.name}: bulk upload of ${n} messages`);
    const t0 = now();
    w = await d.openWriter(`n${n}`, prefills.get(n));
    await w.allConfirmed(n, cfg.timeoutMs + n * 20);
    out[`bulk.${n}`] = now() - t0;

    log(`${d.name}: ${P} appends at ${n}, then again on a reopened connection, then with a second device`);
    [r, out[`cpu.${n}`]] = await withCpu(d, P, () => probe(w, P));
    out[`at.${n}.p50`] = r.p50;
    out[`at.${n}.p99`] = r.p99;
    w = await d.reopenWriter(w, true);
    r = await probe(w, P);
    out[`fast.${n}.p50`] = r.p50;
    out[`fast.${n}.p99`] = r.p99;
    const reader = await d.openReader(w.conv, n + 2 * P);
    r = await probe(w, P, reader);
    out[`deliv.${n}.p50`] = r.del50;
    await reader.close();
    await w.close();
    big.push({ n, conv: w.conv, count: n + 3 * P });
    written += n + 3 * P;
    lastConv = w.conv;
  }

  const W = cfg.writers;
  const M = cfg.perWriter;
  log(`${d.name}: throughput, ${W} conversations, ${M} acknowledged appends each`);
  const writers = [];
  for (let i = 0; i < W; i++) writers.push(await d.openWriter(`tput${i}`));
  const t0 = now();
  const proxyBefore = d.proxyCpuSeconds?.();
  const clientBefore = process.cpuUsage();
  [, out["cpu.load"]] = await withCpu(d, W * M, () =>
    Promise.all(
      writers.map(async (tw) => {
        for (let i = 0; i < M; i++) await tw.confirmed(tw.append(body(i)));
      }),
    ),
  );
  out.tput = (W * M) / ((now() - t0) / 1000);
  out["cpu.proxy"] = d.proxyCpuSeconds ? ((d.proxyCpuSeconds() - proxyBefore) * 1000) / (W * M) : null;
  // The writers' own work (JS Automerge: changes, sync messages, receipts) shares the
  // machine's cores with the server; µs from process.cpuUsage.
  const client = process.cpuUsage(clientBefore);
  out["cpu.client"] = (client.user + client.system) / 1000 / (W * M);
  for (const tw of writers) await tw.close();
  written += W * M;

  if (cfg.restart) {
    log(`${d.name}: kill -9 and restart`);
    out.restart = await d.restart(lastConv);
    out["restart.health"] = d.restartHealthMs ?? null;
  }

  for (const b of big) {
    log(`${d.name}: a fresh device syncs the ${b.count}-message conversation`);
    const t = now();
    const fresh = await d.openReader(b.conv, b.count);
    out[`fresh.${b.n}.ms`] = now() - t;
    out[`fresh.${b.n}.bytes`] = fresh.bytesIn();
    out[`fresh.${b.n}.history`] = fresh.historyBytes?.() ?? null;
    await fresh.close();
  }

  totals[d.name] = (totals[d.name] ?? 0) + written;
  out.disk = d.diskBytes() / totals[d.name];
  out.diskData = d.dataBytes() / totals[d.name];

  // After the disk figure: its probes open many empty conversations.
  if (d.health && cfg.streamSeconds > 0) {
    for (const fast of [true, false]) {
      log(`${d.name}: 5 devices (${fast ? "caps=changes" : "sync protocol"}) stream into one conversation for ${cfg.streamSeconds} s; /health and first syncs probed meanwhile`);
      const r = await streamProbe(d, cfg.streamSeconds * 1000, fast, cfg.timeoutMs);
      Object.assign(out, r);
      totals[d.name] += r[`${fast ? "streamfast" : "stream"}.sent`];
    }
  }
  return out;
}
