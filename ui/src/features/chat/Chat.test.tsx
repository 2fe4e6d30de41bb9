// Chat names whoever is typing from the team's whole roster, however large the team and whenever the chat
// opened; and a message delivered while the room was not connected shows as sent, without disappearing first.
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Message, OutboxEntry, TeamMembership, User } from "../../bindings";
import { followRooms } from "../../lib/team/store";
import { followLink } from "../../lib/reconnects";
import { answers, calls, emitRoom, events, failures, reset } from "../../testing/fakeBindings";
import { joinFrames, linkStatus, members, TEAM, userId } from "../../testing/fixtures";
import { Chat } from "./Chat";
import { loadFormat } from "./MessageText";
import { forgetDrafts } from "./drafts";
import { dayLabel } from "../../lib/dates";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
const me: User = { id: userId(1), email: "m1@example.com", display_name: "Member 1" };

// The chat draws messages once their formatting has loaded, as the app's first chat does.
beforeAll(async () => {
  await loadFormat();
});

let stop: () => void;
beforeEach(() => {
  reset();
  // What the workspace does while someone is signed in.
  stop = followRooms();
});
afterEach(() => {
  cleanup();
  stop();
});

describe("who is typing", () => {
  it("names a typist beyond the first 25 members", async () => {
    await act(async () => render(<Chat team={team} user={me} />));
    act(() => {
      joinFrames(members(1, 30)).forEach((frame) => emitRoom(TEAM, frame));
      emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(30) });
    });
    expect(screen.getByTestId("typing").textContent).toBe("Member 30 is typing…");
  });

  it("names typists in a chat opened after the team was joined", async () => {
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    await act(async () => render(<Chat team={team} user={me} />));
    act(() => emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(2) }));
    expect(screen.getByTestId("typing").textContent).toBe("Member 2 is typing…");
  });
});

describe("a message sent while the room was not connected", () => {
  it("shows as sent once it leaves the outbox, though no new_message frame came", async () => {
    const waiting: OutboxEntry = { client_id: "c1", team_id: TEAM, kind: "message", content: "written on the train", state: "pending", error_code: null, error: null };
    answers.outbox = [waiting];
    answers.messages = [];
    await act(async () => render(<Chat team={team} user={me} />));
    expect(screen.getByTestId("message").dataset.state).toBe("pending");

    // Delivered: the relay's copy is in the history, the outbox entry is gone.
    const delivered = { id: "m1", team_id: TEAM, seq: 1, author_id: me.id, author_name: "Member 1", client_id: "c1", kind: "text", content: "written on the train", created_at: "2026-12-05T10:00:00Z" } as Message;
    let readHistory: (messages: Message[]) => void = () => {};
    answers.outbox = [];
    answers.messages = () => new Promise<Message[]>((resolve) => (readHistory = resolve));
    await act(async () => events.statusChanged.emit({}));
    // While the history is read, the message stays as it was: it never disappears in between.
    expect(screen.getByTestId("message").dataset.state).toBe("pending");
    await act(async () => readHistory([delivered]));
    const shown = screen.getByTestId("message");
    expect(shown.dataset.state).toBe("sent");
    expect(shown.textContent).toContain("written on the train");
  });
});

describe("paging back offline", () => {
  const message = (seq: number) =>
    ({ id: `m${seq}`, team_id: TEAM, seq, author_id: userId(2), author_name: "Member 2", client_id: `c${seq}`, kind: "text", content: `m${seq}`, created_at: "2026-12-05T10:00:00Z" }) as Message;

  it("says older messages wait for the link instead of claiming the history starts, and pages on once it is back", async () => {
    answers.status = linkStatus("offline");
    const stopLink = await act(async () => followLink());
    answers.messages = [message(40), message(41)];
    failures.olderMessages = { kind: "not_cached" };
    await act(async () => render(<Chat team={team} user={me} />));
    await act(async () => void fireEvent.scroll(screen.getByTestId("messages")));
    expect(screen.getByTestId("older-offline").textContent).toBe("Older messages show once you're connected.");
    expect(screen.queryByText(/The beginning/)).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();

    delete failures.olderMessages;
    answers.olderMessages = [message(39)];
    await act(async () => events.statusChanged.emit(linkStatus("online")));
    expect(screen.queryByTestId("older-offline")).toBeNull();
    await act(async () => void fireEvent.scroll(screen.getByTestId("messages")));
    expect(screen.getAllByTestId("message").map((m) => m.textContent)).toEqual([expect.stringContaining("m39"), expect.stringContaining("m40"), expect.stringContaining("m41")]);
    stopLink();
  });
});

describe("a refused message", () => {
  it("goes back to the composer to edit, its mentions as names, and leaves the outbox", async () => {
    const refusedMessage: OutboxEntry = {
      client_id: "c9",
      team_id: TEAM,
      kind: "message",
      content: `thanks @[Member 7](user:${userId(7)})!`,
      state: "failed",
      error_code: "validation_failed",
      error: "mentions someone who is not a member",
    };
    answers.messages = [];
    answers.outbox = [refusedMessage];
    await act(async () => render(<Chat team={team} user={me} />));
    expect(screen.getByTestId("message").dataset.state).toBe("failed");
    answers.outbox = [];
    await act(async () => void fireEvent.click(screen.getByTestId("edit-failed")));
    expect(calls).toContainEqual(["discard", "c9"]);
    expect((screen.getByTestId("composer") as HTMLInputElement).value).toBe("thanks @Member 7!");
    expect(screen.queryByTestId("message")).toBeNull();
  });
});

describe("a message opened from search", () => {
  const message = (seq: number) =>
    ({ id: `m${seq}`, team_id: TEAM, seq, author_id: userId(2), author_name: "Member 2", client_id: `c${seq}`, kind: "text", content: `m${seq}`, created_at: "2026-12-05T10:00:00Z" }) as Message;

  it("is brought into view once; new messages afterwards leave the scroll alone", async () => {
    const scrolled = vi.fn();
    Element.prototype.scrollIntoView = scrolled;
    answers.messages = [message(5), message(6)];
    await act(async () => render(<Chat team={team} user={me} focusSeq={5} />));
    expect(scrolled).toHaveBeenCalledTimes(1);
    await act(async () => emitRoom(TEAM, { type: "new_message", message: message(7) }));
    await act(async () => emitRoom(TEAM, { type: "new_message", message: message(8) }));
    expect(scrolled).toHaveBeenCalledTimes(1);
  });
});

describe("a draft", () => {
  afterEach(forgetDrafts);

  it("survives leaving the chat, with the names picked to mention, and goes when the sign-in ends", async () => {
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    const first = await act(async () => render(<Chat team={team} user={me} />));
    const composer = () => screen.getByTestId("composer") as HTMLInputElement;
    fireEvent.change(composer(), { target: { value: "ask @Mem", selectionStart: 8 } });
    await act(async () => fireEvent.mouseDown(screen.getAllByTestId("mention-option")[0]));
    fireEvent.change(composer(), { target: { value: `${composer().value}about the launch` } });
    first.unmount();

    // Another team's chat has its own (empty) draft; this team's comes back as it was.
    const other = await act(async () => render(<Chat team={{ ...team, id: "0190f1e2-0000-7000-8000-0000000000bb" }} user={me} />));
    expect(composer().value).toBe("");
    other.unmount();
    await act(async () => render(<Chat team={team} user={me} />));
    expect(composer().value).toBe("ask @Member 2 about the launch");
    await act(async () => fireEvent.submit(composer().form!));
    const sent = calls.find(([name]) => name === "sendMessage");
    expect(sent?.[2]).toBe(`ask @[Member 2](user:${userId(2)}) about the launch`);
    expect(composer().value).toBe("");

    fireEvent.change(composer(), { target: { value: "half written" } });
    cleanup();
    forgetDrafts();
    await act(async () => render(<Chat team={team} user={me} />));
    expect(composer().value).toBe("");
  });
});

describe("days", () => {
  it("puts a divider above the first message of each day, naming it", async () => {
    const at = (seq: number, day: Date) =>
      ({ id: `m${seq}`, team_id: TEAM, seq, author_id: userId(2), author_name: "Member 2", kind: "text", content: `message ${seq}`, created_at: day.toISOString() }) as Message;
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1, 12);
    const before = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 5, 12);
    answers.messages = [at(1, before), at(2, before), at(3, yesterday), at(4, today)];
    await act(async () => render(<Chat team={team} user={me} />));
    const rows = [...screen.getByTestId("messages").children].map((li) => (li.classList.contains("day") ? `— ${li.textContent}` : li.querySelector("p")?.textContent));
    expect(rows).toEqual([`— ${dayLabel(before)}`, "message 1", "message 2", "— Yesterday", "message 3", "— Today", "message 4"]);
  });
});

describe("runs of one person's messages", () => {
  const at = (seq: number, minute: number, author = userId(2), extra: Partial<Message> = {}) =>
    ({
      id: `m${seq}`, team_id: TEAM, seq, author_id: author, author_name: author === me.id ? "Member 1" : "Member 2", client_id: `c${seq}`, kind: "text",
      content: `m${seq}`, created_at: new Date(Date.UTC(2026, 11, 5, 10, minute)).toISOString(), edited_at: null, deleted: false, ...extra,
    }) as Message;
  /** Each message row as drawn: the name it shows (none when it continues a run), then its text. */
  const rows = () =>
    screen.getAllByTestId("message").map((li) => {
      const shown = li.querySelector(".author:not(.visually-hidden)")?.textContent;
      return `${shown ?? "·"} ${li.querySelector("p")?.textContent}`;
    });

  it("names a person once for messages written one after another, and again after someone else, a pause or a mirrored name", async () => {
    answers.messages = [
      at(1, 0), at(2, 1), at(3, 2, userId(2), { deleted: true, content: "" }), at(4, 3, me.id), at(5, 4),
      at(6, 10), at(7, 11, userId(2), { author_name: "Member 2 (Slack)", client_id: "slack:7" }), at(8, 12),
    ];
    await act(async () => render(<Chat team={team} user={me} readSeq={8} />));
    expect(rows()).toEqual([
      "Member 2 m1", "· m2", "· This message was deleted.", "Member 1 m4", "Member 2 m5",
      "Member 2 m6", "Member 2 (Slack) m7", "Member 2 m8",
    ]);
    // Whoever wrote a continuing message is still said to a screen reader, and its time is there on hover.
    const second = screen.getAllByTestId("message")[1];
    expect(within(second).getByText("Member 2").classList.contains("visually-hidden")).toBe(true);
    expect(second.querySelector(".message-actions time")?.getAttribute("datetime")).toBe(at(2, 1).created_at);
    // A message starting a run has its time on its name line, not again with its actions.
    expect(screen.getAllByTestId("message")[0].querySelector(".message-actions time")).toBeNull();
  });

  it("says a continuing message was edited after its words, not on a line of its own", async () => {
    answers.messages = [at(1, 0), at(2, 1, userId(2), { edited_at: new Date(Date.UTC(2026, 11, 5, 10, 3)).toISOString(), content: "m2, reworded" })];
    await act(async () => render(<Chat team={team} user={me} readSeq={2} />));
    const second = screen.getAllByTestId("message")[1];
    expect(second.querySelector("p")?.textContent).toBe("m2, reworded(edited)");
    expect(second.querySelectorAll("[data-testid=message-edited]").length).toBe(1);
  });

  it("starts a run again below New", async () => {
    answers.messages = [at(1, 0), at(2, 1), at(3, 2)];
    await act(async () => render(<Chat team={team} user={me} readSeq={1} />));
    expect(rows()).toEqual(["Member 2 m1", "Member 2 m2", "· m3"]);
  });
});

describe("links in messages", () => {
  it("draws web links as links that open in the system browser, never in the window", async () => {
    answers.messages = [
      { id: "m1", team_id: TEAM, seq: 1, author_id: userId(2), author_name: "Member 2", client_id: "c1", kind: "text", content: "the fix: https://example.com/pr/12, or mail ops@example.com", created_at: "2026-12-05T10:00:00Z", edited_at: null, deleted: false } as Message,
    ];
    await act(async () => render(<Chat team={team} user={me} readSeq={1} />));
    const links = screen.getAllByTestId("message-link");
    expect(links.map((a) => [a.textContent, a.getAttribute("href")])).toEqual([["https://example.com/pr/12", "https://example.com/pr/12"]]);
    expect(screen.getByTestId("message").querySelector("p")?.textContent).toBe("the fix: https://example.com/pr/12, or mail ops@example.com");
    let navigated = true;
    await act(async () => void (navigated = fireEvent.click(links[0])));
    expect(navigated, "the window does not follow the link itself").toBe(false);
    expect(calls.filter(([name]) => name === "openLink")).toEqual([["openLink", "https://example.com/pr/12"]]);
  });

  it("says why when the browser cannot be opened", async () => {
    answers.messages = [
      { id: "m1", team_id: TEAM, seq: 1, author_id: userId(2), author_name: "Member 2", client_id: "c1", kind: "text", content: "example.com", created_at: "2026-12-05T10:00:00Z", edited_at: null, deleted: false } as Message,
    ];
    failures.openLink = { kind: "local", message: "no browser to open it with" };
    await act(async () => render(<Chat team={team} user={me} readSeq={1} />));
    await act(async () => void fireEvent.click(screen.getByTestId("message-link")));
    expect(screen.getByRole("alert").textContent).toContain("no browser to open it with");
  });
});

describe("a history not readable offline", () => {
  it("says so until the room is back and the history is read, then no more", async () => {
    failures.messages = { kind: "not_cached" };
    await act(async () => render(<Chat team={team} user={me} />));
    expect(screen.getByRole("alert").textContent).toBe("Not available offline yet: connect once to fetch it.");
    expect(screen.queryByTestId("chat-empty")).toBeNull();
    delete failures.messages;
    answers.messages = [];
    await act(async () => joinFrames(members(1, 2)).forEach((frame) => emitRoom(TEAM, frame)));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("chat-empty")).toBeTruthy();
  });
});

describe("opening", () => {
  // jsdom lays nothing out: a list 50 px a row (and 26 px more for each row of reactions), 500 px tall,
  // whose scroll position is kept.
  const tops = new WeakMap<Element, number>();
  beforeEach(() => {
    Object.defineProperty(HTMLOListElement.prototype, "scrollHeight", {
      configurable: true,
      get: function (this: Element) { return 50 * this.children.length + 26 * this.querySelectorAll("[data-testid=reactions]").length; },
    });
    Object.defineProperty(HTMLOListElement.prototype, "clientHeight", { configurable: true, get: () => 500 });
    Object.defineProperty(HTMLOListElement.prototype, "scrollTop", {
      configurable: true,
      get: function (this: Element) { return tops.get(this) ?? 0; },
      set: function (this: Element, at: number) { tops.set(this, at); },
    });
  });
  afterEach(() => {
    for (const name of ["scrollHeight", "clientHeight", "scrollTop"]) delete (HTMLOListElement.prototype as unknown as Record<string, unknown>)[name];
  });

  it("opens at the newest message even when this device's own unsent one shows first", async () => {
    const waiting: OutboxEntry = { client_id: "c1", team_id: TEAM, kind: "message", content: "still sending", state: "pending", error_code: null, error: null };
    answers.outbox = [waiting];
    let readHistory: (messages: Message[]) => void = () => {};
    answers.messages = () => new Promise<Message[]>((resolve) => (readHistory = resolve));
    await act(async () => render(<Chat team={team} user={me} />));
    const list = screen.getByTestId("messages");
    const history = Array.from({ length: 100 }, (_, i) => ({ id: `m${i}`, team_id: TEAM, seq: i + 1, author_id: userId(2), author_name: "Member 2", kind: "text", content: `message ${i + 1}`, created_at: new Date().toISOString() }) as Message);
    await act(async () => readHistory(history));
    expect(list.scrollTop).toBe(list.scrollHeight);
    expect(list.scrollHeight).toBeGreaterThan(5000);
  });

  it("stays at the newest message as a message grows, and leaves the scroll alone while reading back", async () => {
    const history = Array.from({ length: 30 }, (_, i) => ({ id: `m${i}`, team_id: TEAM, seq: i + 1, author_id: userId(2), author_name: "Member 2", client_id: `c${i}`, kind: "text", content: `message ${i + 1}`, created_at: new Date().toISOString(), change_seq: null, reactions: [] }) as unknown as Message);
    answers.messages = history;
    await act(async () => render(<Chat team={team} user={me} />));
    const list = screen.getByTestId("messages");
    // (The fake list does not clamp: scrolled "to the bottom", its scrollTop is its scrollHeight.)
    expect(list.scrollTop).toBe(list.scrollHeight);
    fireEvent.scroll(list);
    // A reaction puts a row of chips under the newest message: it is brought into view.
    const grown = { ...history[29], reactions: [{ emoji: "🎉", user_ids: [userId(3)] }], change_seq: 1 };
    await act(async () => emitRoom(TEAM, { type: "message_changed", message: grown }));
    expect(list.scrollTop).toBe(list.scrollHeight);
    // Read back to the top: another message growing leaves the reader where they are.
    list.scrollTop = 600;
    fireEvent.scroll(list);
    await act(async () => emitRoom(TEAM, { type: "message_changed", message: { ...history[28], reactions: [{ emoji: "👍", user_ids: [userId(3)] }], change_seq: 2 } }));
    expect(list.scrollTop).toBe(600);
  });
});

describe("where what was not read begins", () => {
  const message = (seq: number, author = userId(2)) =>
    ({ id: `m${seq}`, team_id: TEAM, seq, author_id: author, author_name: author === me.id ? "Member 1" : "Member 2", client_id: `c${seq}`, kind: "text", content: `m${seq}`, created_at: "2026-12-05T10:00:00Z" }) as Message;
  const rowAfterNew = () => screen.getByTestId("new-messages").nextElementSibling?.getAttribute("data-seq");

  it("marks the first message a teammate wrote after what was read, and keeps it there while the rest is read", async () => {
    answers.messages = [message(1), message(2), message(3, me.id), message(4), message(5)];
    const view = await act(async () => render(<Chat team={team} user={me} readSeq={2} />));
    expect(rowAfterNew()).toBe("4");
    // The chat marks everything read: "New" stays where it was.
    view.rerender(<Chat team={team} user={me} readSeq={5} />);
    expect(rowAfterNew()).toBe("4");
  });

  it("waits for the read states when they are not known yet, and shows nothing when all was read", async () => {
    answers.messages = [message(1), message(2)];
    const onSeen = vi.fn();
    const view = await act(async () => render(<Chat team={team} user={me} onSeen={onSeen} />));
    expect(screen.queryByTestId("new-messages")).toBeNull();
    // Nothing is marked read before it is known where reading stopped.
    expect(onSeen).not.toHaveBeenCalled();
    view.rerender(<Chat team={team} user={me} readSeq={1} onSeen={onSeen} />);
    expect(rowAfterNew()).toBe("2");
    expect(onSeen).toHaveBeenCalledWith(2);
    cleanup();
    await act(async () => render(<Chat team={team} user={me} readSeq={2} />));
    expect(screen.queryByTestId("new-messages")).toBeNull();
  });

  it("goes once the person sends a message", async () => {
    answers.messages = [message(1), message(2)];
    await act(async () => render(<Chat team={team} user={me} readSeq={1} />));
    expect(screen.getByTestId("new-messages")).toBeTruthy();
    fireEvent.change(screen.getByTestId("composer"), { target: { value: "caught up" } });
    await act(async () => void fireEvent.keyDown(screen.getByTestId("composer"), { key: "Enter" }));
    expect(screen.queryByTestId("new-messages")).toBeNull();
  });
});

describe("changing a message already sent", () => {
  const bob = userId(2);
  const message = (seq: number, author = me.id, content = `m${seq}`) =>
    ({ id: `m${seq}`, team_id: TEAM, seq, author_id: author, author_name: author === me.id ? "Member 1" : "Member 2", client_id: `c${seq}`, kind: "text", content, mentions: [], created_at: "2026-12-05T10:00:00Z", edited_at: null, deleted: false }) as Message;
  const row = (seq: number) => screen.getAllByTestId("message").find((m) => m.dataset.seq === `${seq}`)!;

  it("offers Edit on the person's own messages and Delete on theirs, and on anyone's to admins and owners", async () => {
    answers.messages = [message(1), message(2, bob)];
    await act(async () => render(<Chat team={team} user={me} />));
    expect(within(row(1)).queryByTestId("edit-message")).toBeTruthy();
    expect(within(row(1)).queryByTestId("delete-message")).toBeTruthy();
    expect(within(row(2)).queryByTestId("edit-message")).toBeNull();
    expect(within(row(2)).queryByTestId("delete-message")).toBeNull();
    cleanup();
    await act(async () => render(<Chat team={{ ...team, role: "admin" }} user={me} />));
    expect(within(row(2)).queryByTestId("edit-message")).toBeNull();
    expect(within(row(2)).queryByTestId("delete-message")).toBeTruthy();
    cleanup();
    // A message mirrored from Slack under this person's name is deleted, never edited.
    cleanup();
    answers.messages = [{ ...message(1), client_id: "slack-Ev1" }];
    await act(async () => render(<Chat team={team} user={me} />));
    expect(within(row(1)).queryByTestId("edit-message")).toBeNull();
    expect(within(row(1)).queryByTestId("delete-message")).toBeTruthy();
    cleanup();
    answers.messages = [message(1), message(2, bob)];
    // A viewer writes nothing, so edits nothing; taking back their own words they may.
    await act(async () => render(<Chat team={{ ...team, role: "viewer" }} user={me} />));
    expect(within(row(1)).queryByTestId("edit-message")).toBeNull();
    expect(within(row(1)).queryByTestId("delete-message")).toBeTruthy();
  });

  it("edits in place with mentions kept, shows it edited at once, and Escape leaves without saving", async () => {
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    answers.messages = [message(1, me.id, `ask @[Member 2](user:${bob}) about it`)];
    await act(async () => render(<Chat team={team} user={me} />));
    await act(async () => screen.getByTestId("edit-message").click());
    const box = screen.getByTestId("edit-message-text") as HTMLTextAreaElement;
    expect(box.value).toBe("ask @Member 2 about it");
    fireEvent.change(box, { target: { value: "ask @Member 2 about it today" } });
    await act(async () => void fireEvent.keyDown(box, { key: "Enter" }));
    expect(calls).toContainEqual(["editMessage", TEAM, "m1", `ask @[Member 2](user:${bob}) about it today`]);
    expect(row(1).textContent).toContain("about it today");
    expect(within(row(1)).getByTestId("message-edited").textContent).toBe("(edited)");

    await act(async () => screen.getByTestId("edit-message").click());
    fireEvent.change(screen.getByTestId("edit-message-text"), { target: { value: "not this" } });
    await act(async () => void fireEvent.keyDown(screen.getByTestId("edit-message-text"), { key: "Escape" }));
    expect(screen.queryByTestId("edit-message-text")).toBeNull();
    expect(calls.filter(([name]) => name === "editMessage")).toHaveLength(1);
  });

  it("closes an edit when someone else deletes the message meanwhile", async () => {
    answers.messages = [message(1)];
    await act(async () => render(<Chat team={team} user={me} />));
    await act(async () => screen.getByTestId("edit-message").click());
    act(() => emitRoom(TEAM, { type: "message_changed", message: { ...message(1), content: "", deleted: true } }));
    expect(screen.queryByTestId("edit-message-text")).toBeNull();
    expect(screen.getByTestId("message-deleted")).toBeTruthy();
  });

  it("asks before deleting, then shows the message deleted", async () => {
    answers.messages = [message(1)];
    await act(async () => render(<Chat team={team} user={me} />));
    await act(async () => screen.getByTestId("delete-message").click());
    expect(calls.some(([name]) => name === "deleteMessage")).toBe(false);
    await act(async () => screen.getByTestId("confirm-delete-message").click());
    expect(calls).toContainEqual(["deleteMessage", TEAM, "m1"]);
    expect(document.activeElement).toBe(screen.getByTestId("composer"));
    expect(screen.getByTestId("message-deleted").textContent).toBe("This message was deleted.");
    expect(screen.queryByTestId("delete-message")).toBeNull();
  });

  it("shows reactions as chips, puts this person's on or takes it off at once, and offers emoji to pick", async () => {
    const reacted = { ...message(1, bob), reactions: [{ emoji: "👍", user_ids: [bob] }, { emoji: "🎉", user_ids: [bob, me.id] }] };
    answers.messages = [reacted];
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    await act(async () => render(<Chat team={team} user={me} />));
    const chips = () => within(row(1)).queryAllByTestId("reaction").map((c) => [c.textContent, c.getAttribute("aria-pressed")]);
    expect(chips()).toEqual([["👍 1", "false"], ["🎉 2", "true"]]);
    expect(within(row(1)).getAllByTestId("reaction")[1].title).toBe("You and Member 2 reacted with 🎉");

    await act(async () => within(row(1)).getAllByTestId("reaction")[0].click());
    expect(calls).toContainEqual(["react", TEAM, "m1", "👍", true]);
    expect(chips()).toEqual([["👍 2", "true"], ["🎉 2", "true"]]);
    await act(async () => within(row(1)).getAllByTestId("reaction")[1].click());
    expect(calls).toContainEqual(["react", TEAM, "m1", "🎉", false]);
    expect(chips()).toEqual([["👍 2", "true"], ["🎉 1", "false"]]);

    // "React" offers emoji; one picked goes on and the picker closes; Escape closes it too.
    await act(async () => within(row(1)).getByTestId("react").click());
    expect(document.activeElement?.textContent).toBe("👍");
    await act(async () => within(row(1)).getByRole("button", { name: "React with 🚀" }).click());
    expect(calls).toContainEqual(["react", TEAM, "m1", "🚀", true]);
    expect(chips().map(([text]) => text)).toEqual(["👍 2", "🎉 1", "🚀 1"]);
    expect(within(row(1)).queryByTestId("reaction-picker")).toBeNull();
    expect(document.activeElement).toBe(within(row(1)).getByTestId("react"));
    await act(async () => within(row(1)).getByTestId("react").click());
    await act(async () => void fireEvent.keyDown(within(row(1)).getByTestId("reaction-picker"), { key: "Escape" }));
    expect(within(row(1)).queryByTestId("reaction-picker")).toBeNull();
    // The focus goes back where the picker opened.
    expect(document.activeElement).toBe(within(row(1)).getByTestId("react"));
    // The focus leaving the picker closes it, and stays where it went.
    await act(async () => within(row(1)).getByTestId("react").click());
    await act(async () => void fireEvent.blur(within(row(1)).getByRole("button", { name: "React with 👍" }), { relatedTarget: screen.getByTestId("composer") }));
    expect(within(row(1)).queryByTestId("reaction-picker")).toBeNull();

    // The relay's copy replaces what was shown; a deleted message has none.
    act(() => emitRoom(TEAM, { type: "message_changed", message: { ...reacted, reactions: [{ emoji: "👀", user_ids: [bob] }], change_seq: 9 } }));
    expect(chips()).toEqual([["👀 1", "false"]]);
    act(() => emitRoom(TEAM, { type: "message_changed", message: { ...reacted, content: "", deleted: true, reactions: [], change_seq: 10 } }));
    expect(within(row(1)).queryByTestId("reactions")).toBeNull();
    expect(within(row(1)).queryByTestId("react")).toBeNull();
  });

  it("shows a viewer the reactions without letting them react", async () => {
    answers.messages = [{ ...message(1, bob), reactions: [{ emoji: "👍", user_ids: [bob] }] }];
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    await act(async () => render(<Chat team={{ ...team, role: "viewer" }} user={me} />));
    expect(within(row(1)).queryByTestId("react")).toBeNull();
    const chip = within(row(1)).getByTestId("reaction");
    expect(chip.getAttribute("aria-disabled")).toBe("true");
    expect(chip.getAttribute("aria-label")).toBe("Member 2 reacted with 👍");
    await act(async () => chip.click());
    expect(calls.some(([name]) => name === "react")).toBe(false);
  });

  it("says why when a reaction cannot be queued, and shows none", async () => {
    answers.messages = [message(1, bob)];
    failures.react = { kind: "signed_out" };
    await act(async () => render(<Chat team={team} user={me} />));
    await act(async () => within(row(1)).getByTestId("react").click());
    await act(async () => within(row(1)).getByRole("button", { name: "React with 👍" }).click());
    expect(within(row(1)).queryByTestId("reactions")).toBeNull();
    expect(calls).toContainEqual(["react", TEAM, "m1", "👍", true]);
    expect(screen.getByRole("alert").textContent).toMatch(/sign/i);
  });

  it("shows a teammate's change as the room tells it, and arrow up in an empty composer edits one's last message", async () => {
    answers.messages = [message(1), message(2, bob), message(3), message(4, bob)];
    await act(async () => render(<Chat team={team} user={me} />));
    act(() => emitRoom(TEAM, { type: "message_changed", message: { ...message(2, bob), content: "", deleted: true } }));
    expect(within(row(2)).getByTestId("message-deleted")).toBeTruthy();
    act(() => emitRoom(TEAM, { type: "message_changed", message: { ...message(4, bob), content: "reworded", edited_at: "2026-12-05T10:05:00Z" } }));
    expect(row(4).textContent).toContain("reworded");

    await act(async () => void fireEvent.keyDown(screen.getByTestId("composer"), { key: "ArrowUp" }));
    expect((within(row(3)).getByTestId("edit-message-text") as HTMLTextAreaElement).value).toBe("m3");
  });
});
