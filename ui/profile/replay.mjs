// Replays the automerge-paper trace into an Automerge document, one change per edit as the window bench
// does, and saves it for the profiling harness (`paper.profile.ts`): `node profile/replay.mjs`.
import { next as A } from "@automerge/automerge";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
const dir = process.env.PROFILE_DIR ?? "/tmp/teamflow-profile";
mkdirSync(dir, { recursive: true });
const trace = JSON.parse(gunzipSync(readFileSync(process.env.PAPER_TRACE ?? new URL("../../../shared/data/editing-traces/automerge-paper.json.gz", import.meta.url))).toString());
let doc = A.from({ text: "x" });
doc = A.change(doc, (d) => A.splice(d, ["text"], 0, 1, ""));
const t0 = performance.now();
let n = 0;
for (const txn of trace.txns) for (const [pos, del, ins] of txn.patches) {
  doc = A.change(doc, { time: 1700000000000 + n }, (d) => A.splice(d, ["text"], pos, del, ins));
  n++;
}
console.log("replayed", n, (performance.now() - t0).toFixed(0), "ms", doc.text.length, doc.text === trace.endContent);
const bytes = A.save(doc);
writeFileSync(`${dir}/paper-raw.am`, bytes);
console.log("saved", bytes.length);
