// The acceptance-6 probes in a process of their own: `GET /health` and a new conversation's
// first sync, one after the other 50 ms apart, for `ms`. Run by workloads.mjs while the
// stream's writers keep its own process busy applying receipts, so that what is measured is
// the relay's answer, not the writers' event loop. Prints {health: [ms…], first: [ms…]}; a
// probe that fails or takes longer than `bound` counts as `bound`.
//
//   node probe.mjs '{"driver": {...edgedeskDriver config}, "ms": 10000, "bound": 10000}'

import { edgedeskDriver } from "./drivers.mjs";

const { driver, ms, bound } = JSON.parse(process.argv[2]);
const d = edgedeskDriver({ ...driver, restartVia: null, bulkBatch: 10000 });
const now = () => performance.now();
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const timed = async (probe) => {
  const t = now();
  return Promise.race([probe().then(() => now() - t, () => bound), sleep(bound).then(() => bound)]);
};
const health = [];
const first = [];
const t0 = now();
while (now() - t0 < ms) {
  health.push(await timed(() => d.health()));
  first.push(await timed(() => d.firstSync("probe")));
  await sleep(50);
}
process.stdout.write(JSON.stringify({ health, first }));
process.exit(0);
