#!/usr/bin/env node
// Records a V8 CPU profile of the Worker running under `wrangler dev`, through the inspector
// port of the Worker's own workerd (the Chrome DevTools protocol; tests/src/cpu_profile.rs
// finds it), for as long as standard input stays open, then writes the .cpuprofile (open it in
// Chrome DevTools) and prints the functions with the most self time. Used by the bench (`EDGEDESK_PROFILE=out.cpuprofile`), which closes stdin after the
// workload it profiles.
//
//   node tests/profile/cpu-profile.mjs <inspector-port> <out.cpuprofile>

import { writeFileSync } from "node:fs";
import WebSocket from "ws";

const [port, out] = process.argv.slice(2);
if (!port || !out) {
  process.stderr.write("usage: cpu-profile.mjs <inspector-port> <out.cpuprofile>\n");
  process.exit(2);
}

// workerd's inspector lists the Worker's isolate at /json.
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl);
if (!target) {
  process.stderr.write(`cpu-profile: no debuggable target on port ${port}\n`);
  process.exit(1);
}
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.once("open", resolve);
  ws.once("error", reject);
});
let nextId = 1;
const pending = new Map();
ws.on("message", (data) => {
  const msg = JSON.parse(data.toString());
  const waiter = pending.get(msg.id);
  if (waiter) {
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(JSON.stringify(msg.error)));
    else waiter.resolve(msg.result);
  }
});
function call(method, params = {}) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
process.stdout.write("cpu-profile: recording\n");
await new Promise((resolve) => {
  process.stdin.on("end", resolve);
  process.stdin.on("close", resolve);
  process.stdin.resume();
});
const { profile } = await call("Profiler.stop");
writeFileSync(out, JSON.stringify(profile));
ws.close();

// Self time per function: samples whose top frame is the node, times the sampling interval.
const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of profile.samples) {
  const frame = byNode.get(id).callFrame;
  const name = frame.functionName || `(anonymous ${frame.url}:${frame.lineNumber})`;
  self.set(name, (self.get(name) || 0) + 1);
}
const total = profile.samples.length;
const idle = ["(idle)", "(program)", "(garbage collector)"];
const busy = total - idle.reduce((sum, n) => sum + (self.get(n) || 0), 0);
process.stdout.write(
  `cpu-profile: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s, ` +
    `busy ${((busy * interval) / 1e3).toFixed(0)} ms; written to ${out}\n`,
);
// Inclusive time: every function on the sample's stack, once per sample.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
const inclusive = new Map();
for (const id of profile.samples) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const frame = byNode.get(at).callFrame;
    const name = frame.functionName || "(anonymous)";
    if (!seen.has(name)) {
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) || 0) + 1);
    }
  }
}
function table(title, counts, skip) {
  process.stdout.write(`\n${title} (share of busy samples)\n`);
  const rows = [...counts.entries()].filter(([name]) => !skip.includes(name));
  for (const [name, n] of rows.sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    const pct = ((100 * n) / Math.max(1, busy)).toFixed(1).padStart(5);
    const ms = ((n * interval) / 1e3).toFixed(1).padStart(8);
    process.stdout.write(`${pct} %  ${ms} ms  ${name.slice(0, 140)}\n`);
  }
}
table("self time", self, idle);
table("inclusive time", inclusive, [...idle, "(root)"]);
