// A stock automerge-repo client reading a rich-text document written in the app, and writing a formatted
// paragraph of its own. Driven by src-tauri/tests/window/editor.rs.
//
// usage: node spans.mjs <relay base ws url> <access token> <peer id> <document url> <wait for> <write>
//
// It finds the document through the relay, waits until its text contains <wait for>, reports the blocks
// and marks of its `text` as the Automerge rich text schema has them, then appends a bold paragraph
// <write> (a block marker, the text, a `strong` mark) and reports that; it then stays connected until its
// standard input closes. Every step is one JSON line on stdout.
import * as A from "@automerge/automerge";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [relay, token, peerId, documentUrl, waitFor, write] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (message) => {
  say({ event: "error", message });
  process.exit(2);
};
const deadline = setTimeout(() => fail("timed out"), 60_000);

const answer = await fetch(`${relay.replace(/^ws/, "http")}/api/auth/ticket`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}` },
});
if (answer.status !== 200) fail(`ticket: ${answer.status} ${await answer.text()}`);
const { ticket } = await answer.json();
const url = `${relay}/sync?ticket=${encodeURIComponent(ticket)}&peer_id=${encodeURIComponent(peerId)}`;
const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(url)], peerId });
const plain = (value) => (A.isImmutableString(value) ? value.val : value);

try {
  const handle = await repo.find(documentUrl);
  await new Promise((resolve) => {
    const check = () => handle.doc().text.includes(waitFor) && resolve();
    handle.on("change", check);
    check();
  });
  const doc = handle.doc();
  const blocks = A.spans(doc, ["text"])
    .filter((s) => s.type === "block")
    .map((s) => ({ type: plain(s.value.type), attrs: Object.fromEntries(Object.entries(s.value.attrs ?? {}).map(([k, v]) => [k, plain(v)])) }));
  const marks = A.marks(doc, ["text"]).map((m) => ({ name: m.name, value: m.value, text: doc.text.slice(m.start, m.end) }));
  say({ event: "read", blocks, marks });
  handle.change((d) => {
    const end = d.text.length;
    A.splitBlock(d, ["text"], end, { type: new A.ImmutableString("paragraph"), parents: [], attrs: {} });
    A.splice(d, ["text"], end + 1, 0, write);
    A.mark(d, ["text"], { start: end + 1, end: end + 1 + write.length, expand: "both" }, "strong", true);
  });
  say({ event: "wrote" });
  clearTimeout(deadline);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
} catch (error) {
  fail(String(error?.stack ?? error));
}
