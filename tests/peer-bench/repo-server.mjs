// The automerge-repo sync server the peer bench compares against: a Repo with the WebSocket
// server adapter (on a `ws` WebSocketServer on 127.0.0.1) and the Node file-system storage
// adapter, set up like automerge-repo's own sync-server example (it announces nothing and
// answers what clients ask for). Started by run.mjs as a child process, so the bench can read
// its CPU time from /proc, kill -9 it and start it again on the same directory and port.
//
//   node repo-server.mjs --port PORT --dir STATE_DIR [--sync-throttle MS]
//
// Prints "LISTENING <port>" once it accepts connections.

import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { loadRepo } from "./repo-tuning.mjs";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    dir: { type: "string" },
    "sync-throttle": { type: "string", default: "0" },
  },
});
if (!values.dir) {
  process.stderr.write("repo-server: --dir is required\n");
  process.exit(2);
}

const { Repo, NodeWSServerAdapter } = await loadRepo(Number(values["sync-throttle"]));
const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(values.port) });
new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(values.dir),
  peerId: `sync-server-${process.pid}`,
  sharePolicy: async () => false,
});
wss.on("listening", () => process.stdout.write(`LISTENING ${wss.address().port}\n`));
// Orphaned (the bench died without stopping us): stop too.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
wss.on("error", (e) => {
  process.stderr.write(`repo-server: ${e.message}\n`);
  process.exit(1);
});
