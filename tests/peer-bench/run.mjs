#!/usr/bin/env node
// The peer bench: the same chat workload against the edgedesk relay (already running, e.g.
// under `wrangler dev`, started by `cargo run --release -p edgedesk-e2e --bin peer_bench`)
// and against the automerge-repo sync server (repo-server.mjs, started here), in one run,
// interleaved over rounds (round 1 edgedesk then automerge-repo, round 2 the other way round,
// …). Prints a Markdown table: median [min–max] over rounds for each system, and the ratio
// of the medians. Loopback only; every wait is bounded; any failure exits 1.
//
//   node tests/peer-bench/run.mjs --url http://127.0.0.1:8787 --key 'kid:secret' \
//     --workspace ws-test --state-dir DIR [--rounds 3] [--sizes 1000,10000] [--probe 200] \
//     [--writers 20] [--per-writer 50] [--repo-sync-throttle 0] [--bulk-batch 10000] [--no-restart]
//     [--stream-seconds 10]   (edgedesk only: /health and first syncs under a 5-device stream; 0 skips)
//
// Each option also comes from the environment: EDGEDESK_URL, EDGEDESK_JWT_KEYS (its first
// key signs), EDGEDESK_WORKSPACE, EDGEDESK_STATE_DIR. PEER_BENCH_RESTART=stdio (set by
// peer_bench) lets the bench ask for a relay restart over stdout/stdin; without it the
// edgedesk restart cell reads "not measured".

import * as A from "@automerge/automerge";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { appendMessage, newReplica } from "./edgedesk-client.mjs";
import { WRITER, edgedeskDriver, repoDriver, stdioRestarter } from "./drivers.mjs";
import { runRound } from "./workloads.mjs";

const env = process.env;
const { values: opt } = parseArgs({
  options: {
    url: { type: "string", default: env.EDGEDESK_URL },
    key: { type: "string", default: env.EDGEDESK_JWT_KEYS },
    workspace: { type: "string", default: env.EDGEDESK_WORKSPACE ?? "ws-test" },
    "state-dir": { type: "string", default: env.EDGEDESK_STATE_DIR },
    rounds: { type: "string", default: "3" },
    sizes: { type: "string", default: "1000,10000" },
    probe: { type: "string", default: "200" },
    writers: { type: "string", default: "20" },
    "per-writer": { type: "string", default: "50" },
    "bulk-batch": { type: "string", default: "10000" },
    "repo-sync-throttle": { type: "string", default: "0" },
    timeout: { type: "string", default: "30000" },
    "max-minutes": { type: "string", default: "90" },
    "stream-seconds": { type: "string", default: "10" },
    "no-restart": { type: "boolean", default: false },
  },
});

let cleanup = () => {};
const log = (m) => process.stdout.write(`[peer-bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
function fail(message) {
  cleanup();
  process.stdout.write(`peer-bench FAILED: ${message}\n`);
  process.exit(1);
}
for (const [name, value] of [["--url", opt.url], ["--key", opt.key], ["--state-dir", opt["state-dir"]]]) {
  if (!value) fail(`${name} (or its environment variable) is required`);
}
const int = (name) => {
  const n = Number(opt[name]);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number`);
  return n;
};
const cfg = {
  rounds: int("rounds"),
  sizes: opt.sizes ? opt.sizes.split(",").map(Number) : [],
  probe: int("probe"),
  writers: int("writers"),
  perWriter: int("per-writer"),
  timeoutMs: int("timeout"),
  restart: !opt["no-restart"],
  repoSyncThrottle: int("repo-sync-throttle"),
  streamSeconds: int("stream-seconds"),
};
if (cfg.sizes.some((n) => !Number.isInteger(n) || n <= 0)) fail("--sizes must be positive whole numbers");
if (cfg.probe < 1 || cfg.rounds < 1) fail("--probe and --rounds must be at least 1");

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => fail(`interrupted (${signal})`));
// A bounded run, whatever happens.
setTimeout(() => fail(`still running after --max-minutes ${opt["max-minutes"]}`), int("max-minutes") * 60000).unref();

// Figures in table order: [key, label, unit].
const rows = [
  ["empty.p50", "append into an empty conversation, send → server confirms, p50", "ms"],
  ["empty.p99", "same, p99", "ms"],
  ...cfg.sizes.flatMap((n) => [
    [`at.${n}.p50`, `append at ${n} messages, p50`, "ms"],
    [`at.${n}.p99`, `append at ${n}, p99`, "ms"],
    [`fast.${n}.p50`, `append at ${n}, reopened; edgedesk with caps=changes (§6.3), p50`, "ms"],
    [`fast.${n}.p99`, `same, p99`, "ms"],
    [`deliv.${n}.p50`, `delivery to a second device at ${n}, p50`, "ms"],
  ]),
  ["tput", `throughput, ${cfg.writers} conversations, one acked writer each`, "msg/s"],
  ["cpu.empty", "server CPU per message, empty conversation", "ms"],
  ...cfg.sizes.map((n) => [`cpu.${n}`, `server CPU per message at ${n}`, "ms"]),
  ["cpu.load", "server CPU per message under load (throughput run)", "ms"],
  ["cpu.proxy", "same, wrangler dev itself: its node process and proxy workerd (not in a deployment; not counted above)", "ms"],
  ["cpu.client", "same, the bench's writers (this process: JS Automerge on the client side)", "ms"],
  ["restart", "restart → first socket open after kill -9", "ms"],
  ["restart.health", "of which until GET /health answers (wrangler dev and both workerd processes started, the Worker's script loaded; no object opened yet)", "ms"],
  ...cfg.sizes.flatMap((n) => [
    [`fresh.${n}.bytes`, `bytes sent to a fresh device for a ${n + 3 * cfg.probe}-message conversation`, "B"],
    [`fresh.${n}.history`, `of which sealed history pages (edgedesk with rollover: §16.3, JSON as served by wrangler dev, uncompressed)`, "B"],
    [`fresh.${n}.ms`, `same, time until in sync (first sync after the restart)`, "ms"],
  ]),
  ["disk", "disk per message, whole state directory", "B"],
  ["diskData", "same, without SQLite's write-ahead logs (workerd's checkpoint policy)", "B"],
  ...cfg.sizes.map((n) => [`bulk.${n}`, `${n} bulk upload until confirmed`, "ms"]),
  ...[["streamfast", "caps=changes (§6.3)"], ["stream", "sync protocol only"]].flatMap(([k, how]) => [
    [`${k}.rate`, `5 devices (${how}) streaming into one conversation, acknowledged (edgedesk only)`, "msg/s"],
    [`${k}.wait`, "meanwhile, the longest a writer waited for a receipt (the bound if never)", "ms"],
    [`${k}.health.p50`, "meanwhile, GET /health, p50", "ms"],
    [`${k}.health.p99`, "same, p99", "ms"],
    [`${k}.first.p50`, "meanwhile, a new conversation's first sync, p50", "ms"],
    [`${k}.first.p99`, "same, p99", "ms"],
  ]),
];

// One offline replica per size, written once and uploaded by both systems.
function prefill(n) {
  let doc = newReplica();
  for (let i = 0; i < n; i++) [doc] = appendMessage(doc, WRITER, `Backlog message ${i}: 你好，请问退款什么时候到账？`);
  return A.save(doc);
}

const fmt = (v, unit) =>
  v == null ? "not measured" : unit === "ms" ? `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms` : `${Math.round(v).toLocaleString("en-US")}${unit === "B" ? " B" : ` ${unit}`}`;
function cell(values, unit, empty) {
  const vs = values.filter((v) => v != null).sort((a, b) => a - b);
  if (!vs.length) return [empty, null];
  const med = vs[Math.floor((vs.length - 1) / 2)];
  const spread = vs.length > 1 ? ` [${fmt(vs[0], unit).replace(/ .*/, "")}–${fmt(vs.at(-1), unit)}]` : "";
  return [`${fmt(med, unit)}${spread}`, med];
}

const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`../../node_modules/@automerge/${pkg}/package.json`, import.meta.url), "utf8")).version;

const repoDir = mkdtempSync(join(tmpdir(), "peer-bench-repo-"));
cleanup = () => rmSync(repoDir, { recursive: true, force: true });
let repo;
let restarter;
try {
  restarter = env.PEER_BENCH_RESTART === "stdio" && cfg.restart ? stdioRestarter(() => fail("stdin closed: peer_bench is gone")) : null;
  const edgedesk = edgedeskDriver({
    baseUrl: opt.url, key: opt.key, workspace: opt.workspace, stateDir: opt["state-dir"],
    timeoutMs: cfg.timeoutMs, restartVia: restarter, bulkBatch: int("bulk-batch") || 10000,
    rollover: Number(env.EDGEDESK_ROLLOVER_MESSAGES ?? 0),
  });
  repo = await repoDriver({ dir: repoDir, timeoutMs: cfg.timeoutMs, syncThrottleMs: cfg.repoSyncThrottle });
  cleanup = () => {
    repo.stop();
    rmSync(repoDir, { recursive: true, force: true });
  };
  log(`sizes ${cfg.sizes.join(", ") || "none"}, ${cfg.probe} appends per latency figure, ${cfg.rounds} rounds`);
  const prefills = new Map();
  for (const n of cfg.sizes) {
    const t = performance.now();
    prefills.set(n, prefill(n));
    log(`prefill replica of ${n} messages written offline in ${(performance.now() - t).toFixed(0)} ms (client-side, not a figure)`);
  }
  edgedesk.prepare(prefills);
  const results = { edgedesk: [], "automerge-repo": [] };
  const totals = {};
  for (let round = 1; round <= cfg.rounds; round++) {
    const order = round % 2 ? [edgedesk, repo] : [repo, edgedesk];
    for (const d of order) {
      log(`round ${round}/${cfg.rounds}: ${d.name}`);
      results[d.name].push(await runRound(d, cfg, prefills, totals, log));
    }
  }
  cleanup();
  restarter?.close();

  const lines = [
    `### Peer bench: ${cfg.rounds} round${cfg.rounds === 1 ? "" : "s"}, interleaved; median [min–max] over rounds`,
    "",
    "| figure | edgedesk | automerge-repo | ratio edgedesk/peer |",
    "|---|---|---|---|",
  ];
  for (const [key, label, unit] of rows) {
    const empty = key === "restart" ? "not measured" : "—";
    const [e, em] = cell(results.edgedesk.map((r) => r[key]), unit, empty);
    const [p, pm] = cell(results["automerge-repo"].map((r) => r[key]), unit, empty);
    const ratio = em != null && pm ? `×${(em / pm).toFixed(2)}` : "";
    lines.push(`| ${label} (${unit}) | ${e} | ${p} | ${ratio} |`);
  }
  lines.push(
    "",
    `Clients, in one Node process: tests/peer-bench/edgedesk-client.mjs (written from PROTOCOL.md; sync protocol only unless the row says caps=changes) and automerge-repo ${version("automerge-repo")} Repos; both on @automerge/automerge ${version("automerge")}.`,
    `automerge-repo sync throttle: ${cfg.repoSyncThrottle} ms (library default 100 ms; --repo-sync-throttle). Server CPU: the Worker's workerd process (not wrangler's proxy) / the repo-server process.`,
    `edgedesk restart: ${restarter ? "measured (kill -9 of wrangler and workerd by peer_bench)" : "not measured (run through peer_bench to measure it)"}.`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exit(0);
} catch (e) {
  fail(e.stack ?? String(e));
}
