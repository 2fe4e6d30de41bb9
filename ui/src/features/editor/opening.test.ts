// Opening documents: a preview drawn from kept spans, and a document loaded from its saved form into a
// repo that has never seen it, then kept (not loaded again) on the next opening.
import { next as A } from "@automerge/automerge/slim";
import { Repo } from "@automerge/automerge-repo/slim";
import { beforeAll, describe, expect, it } from "vitest";
import { findDocument, previewDoc, windowActor } from "./opening";
import { automergeReady } from "./repo";
import { TEXT_PATH } from "./schema";

type Doc = { text: string };

beforeAll(automergeReady);

describe("the preview", () => {
  it("draws kept spans as the editor would", () => {
    let doc = A.from<Doc>({ text: "" });
    doc = A.change(doc, (d) => {
      A.splitBlock(d, TEXT_PATH, 0, { type: "heading", parents: [], attrs: { level: 1 } });
      A.splice(d, TEXT_PATH, 1, 0, "Runbook");
      A.splitBlock(d, TEXT_PATH, 8, { type: "paragraph", parents: [], attrs: {} });
      A.splice(d, TEXT_PATH, 9, 0, "Restart carefully");
      A.mark(d, TEXT_PATH, { start: 17, end: 26, expand: "after" }, "strong", true);
    });
    const drawn = previewDoc(JSON.stringify(A.spans(doc, TEXT_PATH)))!;
    expect(drawn.child(0).type.name).toBe("heading");
    expect(drawn.child(0).textContent).toBe("Runbook");
    expect(drawn.child(1).textContent).toBe("Restart carefully");
    expect(drawn.child(1).child(1).marks.map((m) => m.type.name)).toEqual(["strong"]);
  });

  it("is nothing for none, an empty document or a damaged one", () => {
    expect(previewDoc(null)).toBeNull();
    expect(previewDoc("[]")).toBeNull();
    expect(previewDoc("{not json")).toBeNull();
    expect(previewDoc('{"spans": 1}')).toBeNull();
  });
});

describe("finding a document", () => {
  it("loads the saved document into a repo without it, once", async () => {
    const origin = new Repo({ network: [] });
    const written = origin.create<Doc>({ text: "" });
    written.change((d) => A.splice(d, TEXT_PATH, 0, 0, "hello from the node"));
    const saved = A.save(written.doc());

    const window = new Repo({ network: [] });
    let loads = 0;
    const load = async () => {
      loads++;
      return saved;
    };
    const found = await findDocument<Doc>(window, written.url, load);
    expect(found.doc().text).toBe("hello from the node");
    expect(A.getHeads(found.doc())).toEqual(A.getHeads(written.doc()));
    // Edits work at once, and the next opening finds the same handle without loading again.
    found.change((d) => A.splice(d, TEXT_PATH, 0, 0, "> "));
    const again = await findDocument<Doc>(window, written.url, load);
    expect(again.doc().text).toBe("> hello from the node");
    expect(loads).toBe(1);
  });

  it("writes with an actor that sorts after every actor the document had", async () => {
    // A document written by many devices, each with a random actor, as the node's and the relay's are.
    let doc = A.from<Doc>({ text: "" });
    for (let i = 0; i < 20; i++) {
      doc = A.merge(doc, A.change(A.clone(doc), (d) => A.splice(d, TEXT_PATH, 0, 0, `${i}`)));
    }
    const before = new Set(A.getAllChanges(doc).map((c) => A.decodeChange(c).actor));
    const origin = new Repo({ network: [] });
    const url = origin.import<Doc>(A.save(doc)).url;

    const found = await findDocument<Doc>(new Repo({ network: [] }), url, async () => A.save(doc));
    found.change((d) => A.splice(d, TEXT_PATH, 0, 0, "mine "));
    const mine = A.getActorId(found.doc());
    expect(before.has(mine)).toBe(false);
    expect([...before].every((actor) => actor < mine)).toBe(true);
    expect(A.decodeChange(A.getLastLocalChange(found.doc())!).actor).toBe(mine);
  });
});

describe("the window's actor", () => {
  it("is 16 bytes, unique, and later sessions sort after earlier ones", () => {
    const earlier = windowActor(1_700_000_000_000);
    const later = windowActor(1_700_000_000_001);
    expect(earlier).toMatch(/^[0-9a-f]{32}$/);
    expect(earlier < later).toBe(true);
    expect(windowActor(1_700_000_000_000)).not.toBe(earlier);
    // After any actor that does not share its prefix, as random ones almost never do.
    expect("fffeffffffffffffffffffffffffffff" < earlier).toBe(true);
  });
});
