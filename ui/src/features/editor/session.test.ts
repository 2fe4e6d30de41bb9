import { describe, expect, it } from "vitest";
import type { Splice, TextUpdate } from "../../bindings";
import { DocSession, type DocumentApi, type SessionView } from "./session";
import { apply, mapPosition, rebase } from "./text";

/**
 * A model of the Rust side: versions are numbered, each remembers its text and the edits that made it;
 * an edit made on an old version is rebased over the newer ones (what `edit_at`'s merge amounts to for
 * one writer against one other).
 */
class ModelDocument implements DocumentApi {
  versions: { text: string; edits: Splice[] }[];
  /** Requests wait here until the test releases them, to interleave typing with answers. */
  gate: (() => void)[] = [];
  held = false;

  constructor(text: string) {
    this.versions = [{ text, edits: [] }];
  }

  get text() {
    return this.versions[this.versions.length - 1].text;
  }

  teammate(edit: Splice) {
    this.versions.push({ text: apply(this.text, [edit]), edits: [edit] });
  }

  private async wait() {
    if (this.held) await new Promise<void>((r) => this.gate.push(r));
  }

  async edit(base: string[], edits: Splice[]): Promise<TextUpdate> {
    await this.wait();
    const version = Number(base[0]);
    const concurrent = this.sinceVersion(version);
    const moved = edits.map((e) => rebase(e, concurrent));
    this.versions.push({ text: apply(this.text, moved), edits: moved });
    // From the sender's text (old version + its edits), the concurrent edits moved past its own.
    const changes = concurrent.map((c) => rebase(c, edits));
    return { heads: [String(this.versions.length - 1)], text: this.text, changes };
  }

  async since(heads: string[]): Promise<TextUpdate> {
    await this.wait();
    return { heads: [String(this.versions.length - 1)], text: this.text, changes: this.sinceVersion(Number(heads[0])) };
  }

  private sinceVersion(version: number): Splice[] {
    return this.versions.slice(version + 1).flatMap((v) => v.edits);
  }
}

function open(doc: ModelDocument) {
  const views: SessionView[] = [];
  const session = new DocSession(doc, { heads: ["0"], text: doc.text, changes: [] }, (v) => views.push(v));
  return { session, views };
}

describe("DocSession", () => {
  it("sends keystrokes and ends equal to the document", async () => {
    const doc = new ModelDocument("hello");
    const { session } = open(doc);
    session.input("hello!", { anchor: 6, head: 6 });
    await session.settled();
    expect(doc.text).toBe("hello!");
    expect(session.view().text).toBe("hello!");
    expect(session.view().pending).toBe(false);
  });

  it("keeps the caret on its character when a teammate types before it", async () => {
    const doc = new ModelDocument("world");
    const { session } = open(doc);
    session.select({ anchor: 2, head: 2 }); // between "wo" and "rld"
    doc.teammate({ position: 0, delete: 0, insert: "hello " });
    session.remoteChanged();
    await session.settled();
    expect(session.view().text).toBe("hello world");
    expect(session.view().selection).toEqual({ anchor: 8, head: 8 });
  });

  it("loses no keystroke typed while a request is out and a teammate edits", async () => {
    const doc = new ModelDocument("abc");
    doc.held = true;
    const { session } = open(doc);
    session.input("abc1", { anchor: 4, head: 4 }); // request 1 goes out and waits
    session.input("abc12", { anchor: 5, head: 5 }); // typed while it is out
    doc.teammate({ position: 0, delete: 0, insert: ">" });
    doc.held = false;
    doc.gate.splice(0).forEach((release) => release());
    await session.settled();
    expect(doc.text).toBe(">abc12");
    expect(session.view().text).toBe(">abc12");
    expect(session.view().selection.head).toBe(6);
  });

  it("converges under random interleavings (seeded)", async () => {
    for (let seed = 1; seed <= 25; seed++) {
      let state = seed;
      const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
      const doc = new ModelDocument("the quick brown fox");
      const { session } = open(doc);
      for (let step = 0; step < 30; step++) {
        const text = session.view().text;
        const roll = random();
        if (roll < 0.45) {
          const at = Math.floor(random() * (text.length + 1));
          session.input(text.slice(0, at) + "x" + text.slice(at), { anchor: at + 1, head: at + 1 });
        } else if (roll < 0.6 && text.length > 0) {
          const at = Math.floor(random() * text.length);
          session.input(text.slice(0, at) + text.slice(at + 1), { anchor: at, head: at });
        } else {
          const at = Math.floor(random() * (doc.text.length + 1));
          doc.teammate({ position: at, delete: 0, insert: "T" });
          session.remoteChanged();
        }
        if (random() < 0.3) await session.settled();
      }
      await session.settled();
      expect(session.view().text, `seed ${seed}`).toBe(doc.text);
      const xs = [...session.view().text].filter((c) => c === "T").length;
      expect(xs, `seed ${seed}: teammate's characters kept`).toBe([...doc.text].filter((c) => c === "T").length);
    }
  });

  it("reports a failed request and keeps the text", async () => {
    const failing: DocumentApi = {
      edit: () => Promise.reject(new Error("relay gone")),
      since: () => Promise.reject(new Error("relay gone")),
    };
    const session = new DocSession(failing, { heads: ["0"], text: "a", changes: [] }, () => {});
    session.input("ab", { anchor: 2, head: 2 });
    await session.settled();
    expect(session.view().text).toBe("ab");
    expect(session.view().error).toBe("relay gone");
    expect(mapPosition(0, [])).toBe(0);
  });
});
