// The Node automerge-repo sync server the benchmarks measure the relay against, built the way the
// official automerge-repo-sync-server is: a Repo with the WebSocket server adapter and file-system
// storage, sharing nothing unasked.
//
// usage: node sync-server.mjs <port> <data directory>
// It prints one line, `listening on <port>`, once it accepts connections.
import { WebSocketServer } from "ws";
import { Repo } from "@automerge/automerge-repo";
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";

const [port, dir] = process.argv.slice(2);
const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(port) });
new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: "node-sync-server",
  // As the official server: it never announces documents, it answers requests.
  sharePolicy: async () => false,
});
wss.on("listening", () => process.stdout.write(`listening on ${port}\n`));
