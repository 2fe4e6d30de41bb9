// Joining with a pasted link, for someone who already has an account; and with a link the app was opened
// with, which shows what it offers and joins only when Join is pressed.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OpenedLink, TeamMembership } from "../../bindings";
import { INVITATION_GONE, NOT_A_LINK } from "../../lib/invitation";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { inviteLink, refused, TEAM } from "../../testing/fixtures";
import { JoinWithLink, otherRelay } from "./JoinWithLink";
import { ANSWER_REFUSED } from "./words";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeEach(reset);
afterEach(cleanup);

async function join(link: string, onJoined = vi.fn()) {
  await act(async () => void render(<JoinWithLink onJoined={onJoined} />));
  fireEvent.change(screen.getByTestId("join-link"), { target: { value: link } });
  await act(async () => void fireEvent.click(screen.getByTestId("join-with-link")));
  return onJoined;
}

it("accepts the link's invitation and hands on the team", async () => {
  const team: TeamMembership = { id: TEAM, name: "Studio", role: "member" };
  answers.acceptInvitation = team;
  const onJoined = await join(inviteLink(1));
  expect(calls).toEqual([["acceptInvitation", inviteLink(1)]]);
  expect(onJoined).toHaveBeenCalledWith(team);
  expect((screen.getByTestId("join-link") as HTMLInputElement).value).toBe("");
});

it("refuses what is not a link without asking the relay", async () => {
  const onJoined = await join("see you at the meeting");
  expect(screen.getByTestId("join-link-error").textContent).toBe(NOT_A_LINK);
  expect(calls).toEqual([]);
  expect(onJoined).not.toHaveBeenCalled();
});

it("says why the relay refused", async () => {
  failures.acceptInvitation = refused("not_found", 404);
  await join(inviteLink(1));
  expect(screen.getByTestId("join-link-error").textContent).toBe(INVITATION_GONE);
  cleanup();
  failures.acceptInvitation = refused("conflict", 409);
  await join(inviteLink(1));
  expect(screen.getByTestId("join-link-error").textContent).toBe(ANSWER_REFUSED.conflict);
});

describe("a link the app was opened with", () => {
  const offer = { team_name: "Studio", role: "member" as const, inviter_name: "Ada", expires_at: "2026-12-08T10:00:00Z" };

  // As the app holds it: the link is dropped as soon as the form takes it.
  function App({ link, onOpenedTaken }: { link: OpenedLink; onOpenedTaken: () => void }) {
    const [opened, setOpened] = useState<OpenedLink | null>(link);
    const taken = () => {
      onOpenedTaken();
      setOpened(null);
    };
    return <JoinWithLink onJoined={vi.fn()} opened={opened} onOpenedTaken={taken} />;
  }

  async function opened(link: OpenedLink) {
    const onOpenedTaken = vi.fn();
    await act(async () => void render(<App link={link} onOpenedTaken={onOpenedTaken} />));
    expect(onOpenedTaken).toHaveBeenCalled();
  }
  const joinButton = () => screen.getByTestId("join-with-link") as HTMLButtonElement;

  it("is filled in with what it offers, Join focused once the offer shows, and joins only when pressed", async () => {
    answers.settings = { relay_url: "http://127.0.0.1:8080", theme: "system" };
    answers.previewInvitation = offer;
    await opened({ kind: "invitation", link: inviteLink(1) });
    expect((screen.getByTestId("join-link") as HTMLInputElement).value).toBe(inviteLink(1));
    // Not before the offer shows: a key pressed meanwhile joins nothing.
    expect(joinButton().disabled).toBe(true);
    await waitFor(() => expect(screen.getByTestId("join-preview").textContent).toBe("Join Studio as member, invited by Ada"));
    expect(joinButton().disabled).toBe(false);
    expect(document.activeElement).toBe(joinButton());
    expect(calls).toContainEqual(["previewInvitation", "http://127.0.0.1:8080", inviteLink(1)]);
    expect(screen.queryByTestId("join-link-error")).toBeNull();
    expect(calls.some(([name]) => name === "acceptInvitation")).toBe(false);
    // Typed over, it is the person's own link: no preview, and Join as for any paste.
    fireEvent.change(screen.getByTestId("join-link"), { target: { value: inviteLink(2) } });
    expect(screen.queryByTestId("join-preview")).toBeNull();
    expect(joinButton().disabled).toBe(false);
  });

  it("leaves the focus where it is, someone typing say", async () => {
    answers.settings = { relay_url: "http://127.0.0.1:8080", theme: "system" };
    answers.previewInvitation = offer;
    const composer = document.createElement("textarea");
    document.body.append(composer);
    composer.focus();
    await opened({ kind: "invitation", link: inviteLink(1) });
    await waitFor(() => expect(screen.getByTestId("join-preview")).toBeTruthy());
    expect(document.activeElement).toBe(composer);
    composer.remove();
  });

  it("says when it is another relay's invitation, without asking that relay anything", async () => {
    answers.settings = { relay_url: "https://relay.example.com", theme: "system" };
    await opened({ kind: "invitation", link: inviteLink(1) });
    await waitFor(() => expect(screen.getByTestId("join-link-error").textContent).toBe(otherRelay("http://127.0.0.1:8080", "https://relay.example.com")));
    expect(joinButton().disabled).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(calls.some(([name]) => name === "previewInvitation")).toBe(false);
  });

  it("says, without waiting for Join, when the invitation no longer works", async () => {
    answers.settings = { relay_url: "http://127.0.0.1:8080", theme: "system" };
    failures.previewInvitation = refused("not_found", 404);
    await opened({ kind: "invitation", link: inviteLink(1) });
    await waitFor(() => expect(screen.getByTestId("join-link-error").textContent).toBe(INVITATION_GONE));
    expect(joinButton().disabled).toBe(true);
  });
});
