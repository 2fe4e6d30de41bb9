// A stock automerge-repo client syncing with TeamFlow's relay. Driven by tests/it/interop.rs.
//
// usage: node interop.mjs <relay base ws url> <access token> <peer id> <document url> <append> <final marker>
//
// It finds the document through the relay, appends <append> to its `text`, then waits until the text
// contains <final marker> (written by the Rust side) and the relay holds everything it holds (its own edit
// included: the relay says its heads in the sync protocol), and reports the final text and heads. Every step is
// one JSON line on stdout. A browser-style WebSocket cannot set an Authorization header, so it trades the
// access token for a one-time ticket (POST /api/auth/ticket) and dials /sync?ticket=...
import * as A from "@automerge/automerge";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [relay, token, peerId, documentUrl, append, finalMarker] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (message) => {
  say({ event: "error", message });
  process.exit(2);
};
setTimeout(() => fail("timed out"), 30_000).unref();

const answer = await fetch(`${relay.replace(/^ws/, "http")}/api/auth/ticket`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}` },
});
if (answer.status !== 200) fail(`ticket: ${answer.status} ${await answer.text()}`);
const { ticket } = await answer.json();
const url = `${relay}/sync?ticket=${encodeURIComponent(ticket)}&peer_id=${encodeURIComponent(peerId)}`;
const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(url)], peerId });

try {
  const handle = await repo.find(documentUrl);
  say({ event: "found", text: handle.doc().text });
  handle.change((doc) => A.splice(doc, ["text"], doc.text.length, 0, append));
  say({ event: "edited" });
  // Exiting on the marker alone could drop this client's own edit unsent, when the other's edit was
  // already in the document it found.
  const relayHasAll = () => {
    const mine = handle.heads();
    return Object.keys(repo.peerMetadataByPeerId).some((peer) => {
      const storageId = repo.getStorageIdOfPeer(peer);
      const theirs = storageId && handle.getSyncInfo(storageId)?.lastHeads;
      return theirs && theirs.length === mine.length && mine.every((h) => theirs.includes(h));
    });
  };
  await new Promise((resolve) => {
    const check = () => handle.doc().text.includes(finalMarker) && relayHasAll() && resolve();
    handle.on("change", check);
    handle.on("remote-heads", check);
    check();
  });
  const doc = handle.doc();
  say({ event: "final", text: doc.text, heads: A.getHeads(doc) });
  process.exit(0);
} catch (error) {
  fail(String(error?.stack ?? error));
}
