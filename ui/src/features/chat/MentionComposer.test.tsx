// The composer's @mention list: offered on "@", filtered as typed, keys to move and pick, Escape to close,
// and the pick sent in the wire form; a mention of the reader highlighted in the chat.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Member } from "../../bindings";
import { MentionComposer } from "./MentionComposer";
import { MessageText } from "./MessageText";
import { mentionToken } from "./mentions";
import { useState } from "react";

const ADA = "0193a3b2-0000-7000-8000-000000000001";
const BOB = "0193a3b2-0000-7000-8000-000000000002";
const ME = "0193a3b2-0000-7000-8000-000000000009";
const roster = [
  { user_id: ADA, display_name: "Ada Lovelace", email: "ada@x", role: "member" },
  { user_id: BOB, display_name: "Bob Builder", email: "bob@x", role: "member" },
  { user_id: ME, display_name: "Me Myself", email: "me@x", role: "owner" },
] as Member[];

function Harness({ onSend, members = roster }: { onSend: (content: string) => void; members?: Member[] }) {
  const [draft, setDraft] = useState("");
  return <MentionComposer draft={draft} onDraft={setDraft} onSend={onSend} members={members} me={ME} placeholder="Message #crew" />;
}

function type(value: string) {
  const input = screen.getByTestId("composer") as HTMLTextAreaElement;
  fireEvent.change(input, { target: { value, selectionStart: value.length } });
  return input;
}

afterEach(cleanup);

describe("mention autocomplete", () => {
  it("offers members on @, filters, moves with arrows and picks with Enter; sends the wire form", async () => {
    const onSend = vi.fn();
    render(<Harness onSend={onSend} />);
    const input = type("hi @");
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["Ada Lovelace ada@x", "Bob Builder bob@x"]);
    expect(input.getAttribute("aria-controls")).toBe(screen.getByRole("listbox").id);
    fireEvent.keyDown(input, { key: "ArrowDown" });
    expect(screen.getAllByRole("option")[1].getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(input, { key: "Enter" });
    expect(input.value).toBe("hi @Bob Builder ");
    expect(screen.queryByRole("listbox")).toBeNull();
    type("hi @Bob Builder and @lo");
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["Ada Lovelace ada@x"]);
    fireEvent.keyDown(input, { key: "Tab" });
    await act(async () => fireEvent.submit(input.closest("form")!));
    expect(onSend).toHaveBeenCalledWith(`hi ${mentionToken(BOB, "Bob Builder")} and ${mentionToken(ADA, "Ada Lovelace")}`);
  });

  it("tells two members of the same name apart, and sends each as the one picked", async () => {
    const ADA2 = "0193a3b2-0000-7000-8000-000000000003";
    const twins = [...roster, { user_id: ADA2, display_name: "Ada Lovelace", email: "ada.two@x", role: "member" } as Member];
    const onSend = vi.fn();
    render(<Harness onSend={onSend} members={twins} />);
    const input = type("@ada");
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["Ada Lovelace ada@x", "Ada Lovelace ada.two@x"]);
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "Enter" });
    expect(input.value).toBe("@Ada Lovelace (ada.two@x) ");
    type("@Ada Lovelace (ada.two@x) and @ada");
    fireEvent.keyDown(input, { key: "Enter" });
    expect(input.value).toBe("@Ada Lovelace (ada.two@x) and @Ada Lovelace (ada@x) ");
    await act(async () => fireEvent.submit(input.closest("form")!));
    expect(onSend).toHaveBeenCalledWith(`${mentionToken(ADA2, "Ada Lovelace")} and ${mentionToken(ADA, "Ada Lovelace")}`);
  });

  it("closes on Escape and sends plain text, offering nobody for an unknown name", () => {
    const onSend = vi.fn();
    render(<Harness onSend={onSend} />);
    const input = type("@a");
    expect(screen.getByRole("listbox")).toBeTruthy();
    fireEvent.keyDown(input, { key: "Escape" });
    expect(screen.queryByRole("listbox")).toBeNull();
    type("@zz");
    expect(screen.queryByRole("listbox")).toBeNull();
    fireEvent.submit(input.closest("form")!);
    expect(onSend).toHaveBeenCalledWith("@zz");
  });

  it("highlights a mention of the reader only", () => {
    render(<MessageText content={`${mentionToken(ME, "Me Myself")} and ${mentionToken(ADA, "Ada")}`} me={ME} onOpenLink={() => {}} />);
    expect(screen.getByTestId("mention-me").textContent).toBe("@Me Myself");
    expect(screen.getByTestId("mention").textContent).toBe("@Ada");
  });
});

it("sends with Enter and starts a new line with Shift+Enter", async () => {
  const onSend = vi.fn();
  render(<Harness onSend={onSend} />);
  const box = screen.getByTestId("composer") as HTMLTextAreaElement;
  fireEvent.change(box, { target: { value: "first line", selectionStart: 10 } });
  // Shift+Enter: the browser's own new line (not sent); the composer only must not send.
  fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
  expect(onSend).not.toHaveBeenCalled();
  fireEvent.change(box, { target: { value: "first line\nsecond line", selectionStart: 22 } });
  expect(box.rows).toBe(2);
  fireEvent.keyDown(box, { key: "Enter" });
  expect(onSend).toHaveBeenCalledWith("first line\nsecond line");
});

it("leaves the keys of an input method's composition alone: its Enter neither sends nor picks", () => {
  const onSend = vi.fn();
  render(<Harness onSend={onSend} />);
  const box = type("こんにちは");
  fireEvent.keyDown(box, { key: "Enter", keyCode: 229 });
  expect(onSend).not.toHaveBeenCalled();
  type("hi @");
  fireEvent.keyDown(box, { key: "Enter", keyCode: 229 });
  expect(box.value).toBe("hi @");
});
