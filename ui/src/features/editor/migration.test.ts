// Converting a document from before the rich editor: two devices that convert the same document at the
// same time make one conversion between them (the content is not doubled), the conversion sits in the
// history at the time of the last edit, and a document converted once is left alone. And when to convert:
// only once the node has what the relay has, or cannot learn more.
import { next as A } from "@automerge/automerge/slim";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Status } from "../../bindings";
import { events } from "../../testing/fakeBindings";
import { CONVERSION_MESSAGE, conversionActor, conversionChange, settledWithRelay, whenStatus } from "./migration";
import { needsConversion } from "./markdown";
import { automergeReady } from "./repo";
import { TEXT_PATH } from "./schema";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeAll(automergeReady);

type Doc = { text: string };

const OLD = "# Runbook\nStep one **carefully**\n- a\n- b";

/// The old document as two devices hold it: the same changes, each device with its own actor.
function twoDevices(): [A.Doc<Doc>, A.Doc<Doc>] {
  let written = A.from<Doc>({ text: "" }, "aaaa");
  written = A.change(written, { time: 1_700_000_000 }, (d) => A.splice(d, ["text"], 0, 0, OLD));
  const bytes = A.save(written);
  return [A.load<Doc>(bytes, "b0b0"), A.load<Doc>(bytes, "c0c0")];
}

function headings(doc: A.Doc<Doc>): number {
  return A.spans(doc, TEXT_PATH).filter((s) => s.type === "block" && String((s.value as { type: unknown }).type) === "heading").length;
}

describe("converting an old document", () => {
  it("is the same change on every device, so two conversions at once make one", async () => {
    const [laptop, phone] = twoDevices();
    const fromLaptop = await conversionChange(laptop);
    const fromPhone = await conversionChange(phone);
    expect(fromLaptop).not.toBeNull();
    expect(A.decodeChange(fromLaptop!).hash).toBe(A.decodeChange(fromPhone!).hash);

    // Each device applies its own, then hears of the other's.
    let [l] = A.applyChanges(laptop, [fromLaptop!]);
    let [p] = A.applyChanges(phone, [fromPhone!]);
    [l] = A.applyChanges(l, [fromPhone!]);
    [p] = A.applyChanges(p, [fromLaptop!]);
    expect(l.text).toBe(p.text);
    expect(headings(l)).toBe(1);
    expect(l.text.match(/Runbook/g)).toHaveLength(1);
    expect(l.text.match(/carefully/g)).toHaveLength(1);
    expect(needsConversion(l)).toBe(false);
  });

  it("is in the history at the time of the last edit, with a message, and leaves the document it read alone", async () => {
    const [laptop] = twoDevices();
    const heads = A.getHeads(laptop);
    const change = A.decodeChange((await conversionChange(laptop))!);
    expect(change.time).toBe(1_700_000_000);
    expect(change.message).toBe(CONVERSION_MESSAGE);
    expect(change.deps).toEqual(heads);
    expect(change.actor).toBe(await conversionActor(heads));
    expect(A.getHeads(laptop)).toEqual(heads);
    expect(laptop.text).toBe(OLD);
  });

  it("differs when the document differs, and is not made for a converted or empty document", async () => {
    const [laptop, phone] = twoDevices();
    const edited = A.change(phone, (d) => A.splice(d, ["text"], 0, 0, "New line\n"));
    expect(await conversionActor(A.getHeads(edited))).not.toBe(await conversionActor(A.getHeads(laptop)));
    const [converted] = A.applyChanges(laptop, [(await conversionChange(laptop))!]);
    expect(await conversionChange(converted)).toBeNull();
    expect(await conversionChange(A.from<Doc>({ text: "" }))).toBeNull();
  });
});

function status(link: Status["link"], state?: Status["documents"][string]): Status {
  return { link, documents: state ? { "automerge:doc": state } : {} } as unknown as Status;
}

describe("when to convert", () => {
  it("waits, online or connecting, until the node holds what the relay has", () => {
    expect(settledWithRelay(status("online", "syncing"), "automerge:doc")).toBe(false);
    expect(settledWithRelay(status("online"), "automerge:doc")).toBe(false);
    expect(settledWithRelay(status("online", "synced"), "automerge:doc")).toBe(true);
    expect(settledWithRelay(status("online", "local_only"), "automerge:doc")).toBe(true);
    expect(settledWithRelay(status("connecting"), "automerge:doc")).toBe(false);
    expect(settledWithRelay(status("offline", "local_only"), "automerge:doc")).toBe(true);
  });

  it("goes on when the status says so, or after its time", async () => {
    const ready = (s: Status) => settledWithRelay(s, "automerge:doc");
    const waiting = whenStatus(() => status("online", "syncing"), ready, 10_000);
    await Promise.resolve();
    events.statusChanged.emit(status("online", "syncing"));
    events.statusChanged.emit(status("online", "synced"));
    await expect(waiting).resolves.toBe(true);

    vi.useFakeTimers();
    try {
      const stuck = whenStatus(() => status("online", "syncing"), ready, 50);
      vi.advanceTimersByTime(50);
      await expect(stuck).resolves.toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
