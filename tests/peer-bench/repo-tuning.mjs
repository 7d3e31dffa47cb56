// automerge-repo 2.x sends a document's local changes to its peers at most once per 100 ms
// (`syncDebounceRate = 100` in DocSynchronizer, a class field with no configuration option).
// For sequential "write, wait for the server" traffic that timer, not the protocol or the
// server, would set the latency. `loadRepo(ms)` loads automerge-repo with that field set to
// `ms` (the bench's default is 0; pass 100 to measure the stock library): it registers the
// `load` hook below, which rewrites that one line, then imports the packages. The same file
// is the hook module (Node runs `initialize` and `load` in its loader thread).

import { register } from "node:module";

let throttleMs = 100;
const TARGET = "/@automerge/automerge-repo/dist/synchronizer/DocSynchronizer.js";
const LINE = "syncDebounceRate = 100;";

export function initialize(data) {
  throttleMs = data.throttleMs;
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.endsWith(TARGET)) return result;
  const source = String(result.source);
  if (!source.includes(LINE)) {
    throw new Error(`repo-tuning: ${TARGET} has no '${LINE}' (automerge-repo changed); update tests/peer-bench/repo-tuning.mjs`);
  }
  return { ...result, source: source.replace(LINE, `syncDebounceRate = ${throttleMs};`) };
}

// Must run before anything imports automerge-repo (callers import it only through here).
export async function loadRepo(syncThrottleMs) {
  if (syncThrottleMs !== 100) register(import.meta.url, { data: { throttleMs: syncThrottleMs } });
  const repo = await import("@automerge/automerge-repo");
  const ws = await import("@automerge/automerge-repo-network-websocket");
  return { ...repo, ...ws };
}
