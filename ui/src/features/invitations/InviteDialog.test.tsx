// "Invite people": roles up to the inviter's own, a link made and copied, pending ones revoked, and every
// refusal in words.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { invitation, inviteLink, refused, TEAM } from "../../testing/fixtures";
import { InviteDialog } from "./InviteDialog";
import { COPY_FAILED, INVITE_REFUSED, LIST_REFUSED, NEEDS_RELAY, REVOKE_REFUSED } from "./words";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const admin: TeamMembership = { id: TEAM, name: "Studio", role: "admin" };
const writeText = vi.fn<(text: string) => Promise<void>>();

beforeEach(() => {
  reset();
  writeText.mockReset().mockResolvedValue(undefined);
  Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
});
afterEach(cleanup);

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;
const click = (testId: string) => act(async () => void fireEvent.click(screen.getByTestId(testId)));
const open = (team = admin, onClose = () => {}) => act(async () => void render(<InviteDialog team={team} onClose={onClose} />));

it("offers roles up to the inviter's own", async () => {
  await open();
  const roles = (id: string) => Array.from(input(id).querySelectorAll("option"), (o) => o.value);
  expect(roles("invite-role")).toEqual(["viewer", "member", "admin"]);
  cleanup();
  await open({ ...admin, role: "owner" });
  expect(roles("invite-role")).toEqual(["viewer", "member", "admin", "owner"]);
});

it("makes a link with the chosen role, email and expiry, copies it, and lists it as pending", async () => {
  answers.invite = { ...invitation(1, { role: "viewer", email: "bob@example.com" }), token: "t", url: inviteLink(1) };
  await open();
  expect(screen.queryByTestId("team-invitation")).toBeNull();
  fireEvent.change(input("invite-role"), { target: { value: "viewer" } });
  fireEvent.change(input("invite-email"), { target: { value: "  bob@example.com " } });
  fireEvent.change(input("invite-expiry"), { target: { value: "24" } });
  await click("invite-create");
  expect(calls).toContainEqual(["invite", TEAM, "viewer", "bob@example.com", 24]);
  expect(input("invite-link").value).toBe(inviteLink(1));
  expect(screen.queryByTestId("invite-copied")).toBeNull();

  await click("invite-copy");
  expect(writeText).toHaveBeenCalledWith(inviteLink(1));
  expect(screen.getByTestId("invite-copied").textContent).toBe("Copied");
  const rows = screen.getAllByTestId("team-invitation");
  expect(rows).toHaveLength(1);
  expect(rows[0].textContent).toContain("bob@example.com");
});

it("makes an open link without an email, valid a week unless chosen otherwise", async () => {
  answers.invite = { ...invitation(1), token: "t", url: inviteLink(1) };
  await open();
  await click("invite-create");
  expect(calls).toContainEqual(["invite", TEAM, "member", null, 168]);
  expect(screen.getByTestId("team-invitation").textContent).toContain("Anyone with the link");
});

it("says why the relay refused, and shows no link", async () => {
  failures.invite = refused("forbidden", 403);
  await open();
  await click("invite-create");
  expect(screen.getByTestId("invite-error").textContent).toBe(INVITE_REFUSED.forbidden);
  expect(screen.queryByTestId("invite-link")).toBeNull();
});

it("says so when the clipboard refuses, and selects the link to copy by hand", async () => {
  answers.invite = { ...invitation(1), token: "t", url: inviteLink(1) };
  writeText.mockRejectedValue(new DOMException("denied", "NotAllowedError"));
  await open();
  await click("invite-create");
  await click("invite-copy");
  expect(screen.getByTestId("invite-error").textContent).toBe(COPY_FAILED);
  expect(screen.queryByTestId("invite-copied")).toBeNull();
  expect([input("invite-link").selectionStart, input("invite-link").selectionEnd]).toEqual([0, inviteLink(1).length]);
});

it("revokes a pending invitation; one already gone leaves the list too, a refused one stays", async () => {
  answers.invitations = [invitation(1), invitation(2, { email: "carol@example.com" }), invitation(3)];
  await open();
  const revoke = (n: number) => act(async () => void fireEvent.click(screen.getAllByTestId("invite-revoke")[n]));
  expect(screen.getAllByTestId("team-invitation")).toHaveLength(3);

  await revoke(0);
  expect(calls).toContainEqual(["revokeInvitation", TEAM, invitation(1).id]);
  expect(screen.getAllByTestId("team-invitation").map((r) => r.textContent)).toEqual([
    expect.stringContaining("carol@example.com"),
    expect.stringContaining("Anyone with the link"),
  ]);

  failures.revokeInvitation = refused("not_found", 404);
  await revoke(0);
  expect(screen.getByTestId("invitations-error").textContent).toBe(REVOKE_REFUSED.not_found);
  expect(screen.getAllByTestId("team-invitation")).toHaveLength(1);

  failures.revokeInvitation = { kind: "offline", message: "connection refused" };
  await revoke(0);
  expect(screen.getByTestId("invitations-error").textContent).toBe(NEEDS_RELAY);
  expect(screen.getAllByTestId("team-invitation")).toHaveLength(1);
});

it("says why the pending list is missing", async () => {
  failures.invitations = refused("forbidden", 403);
  await open();
  expect(screen.getByTestId("invitations-error").textContent).toBe(LIST_REFUSED.forbidden);
});

it("closes on Escape and on the close button", async () => {
  const onClose = vi.fn();
  await open(admin, onClose);
  fireEvent.keyDown(window, { key: "Escape" });
  await click("invite-close");
  expect(onClose).toHaveBeenCalledTimes(2);
});
