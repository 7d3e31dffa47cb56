// What the bench reads from the machine: CPU time of server processes (/proc/<pid>/stat,
// utime + stime, every thread of the process) and the size of a state directory.

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, lstatSync } from "node:fs";
import { join } from "node:path";

let ticksPerSecond;
function clkTck() {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return ticksPerSecond;
}

// { pid, comm, pgrp, ticks } of a process, or null if it is gone. `comm` sits in parentheses
// and may contain spaces, so fields are counted from the last ")".
function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  const rest = text.slice(close + 2).split(" "); // rest[0] is field 3 (state)
  return { pid, comm: text.slice(text.indexOf("(") + 1, close), pgrp: Number(rest[2]), ticks: Number(rest[11]) + Number(rest[12]) };
}

const allPids = () => readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);

// CPU seconds used so far by the processes `pids`.
export function cpuSeconds(pids) {
  return pids.reduce((sum, pid) => sum + (stat(pid)?.ticks ?? 0), 0) / clkTck();
}

// The workerd processes of the `wrangler dev` persisting to `stateDir`, split in two. The
// harness starts wrangler in its own process group, and wrangler 4 runs two workerd there:
// its dev proxy, which listens on the public port (`--socket-addr=entry=…:port`) and passes
// requests and sockets on, and the Worker's own (Durable Objects included). Returns
// { worker: [pids], proxy: [pids] }, the proxy with wrangler's node process.
export function workerdPids(stateDir, publicPort) {
  const cmdline = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  };
  const wrangler = allPids().find((pid) => {
    const args = cmdline(pid);
    const at = args.indexOf("--persist-to");
    return at >= 0 && args[at + 1] === stateDir;
  });
  const group = wrangler && stat(wrangler)?.pgrp;
  if (!group) throw new Error(`no wrangler process persisting to ${stateDir} (EDGEDESK_STATE_DIR)`);
  const all = allPids().map(stat).filter((s) => s && s.pgrp === group && s.comm === "workerd");
  const isProxy = (pid) => cmdline(pid).some((a) => a.endsWith(`entry=127.0.0.1:${publicPort}`));
  // `proxy`: what wrangler dev adds in front, its proxy workerd and its own node process.
  const split = { worker: all.filter((s) => !isProxy(s.pid)).map((s) => s.pid), proxy: [wrangler, ...all.filter((s) => isProxy(s.pid)).map((s) => s.pid)] };
  if (!split.worker.length) throw new Error(`no Worker workerd process in wrangler's process group ${group}`);
  return split;
}

// Bytes of every file under `dir` (apparent sizes, recursively).
export function dirBytes(dir, keep = () => true) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(path, keep);
    else if (entry.isFile() && keep(entry.name)) total += lstatSync(path).size;
  }
  return total;
}

// workerd's SQLite journals: the write-ahead log and its index, sized by SQLite's checkpoint
// policy (the log is reused, never truncated, after it first reaches ~1,000 pages). A Worker
// cannot change that policy: PRAGMA wal_checkpoint and journal_size_limit answer SQLITE_AUTH.
export const isJournal = (name) => name.endsWith("-wal") || name.endsWith("-shm");
