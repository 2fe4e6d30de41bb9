// Signing up with an invitation link: the relay comes from the link, the offer shows before the account
// exists, the account is made with the invitation, and unusable links say why.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { InvitationPreview, OpenedLink, User } from "../../bindings";
import { INVITATION_GONE, NOT_A_LINK } from "../../lib/invitation";
import { SIGN_IN_READY } from "../../lib/readiness";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { inviteLink, refused, userId } from "../../testing/fixtures";
import { SignIn } from "./SignIn";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const RELAY = "http://127.0.0.1:8080";
const offer: InvitationPreview = { team_name: "Studio", role: "member", inviter_name: "Ada", expires_at: "2026-12-08T10:00:00Z" };
const bob: User = { id: userId(2), email: "bob@example.com", display_name: "Bob" };
const onSignedIn = vi.fn<(user: User, relayUrl: string) => void>();

beforeEach(() => {
  reset();
  onSignedIn.mockReset();
});
afterEach(cleanup);

const field = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;
const type = (testId: string, value: string) => fireEvent.change(field(testId), { target: { value } });

async function signUpForm(initialRelayUrl = "") {
  await act(async () => void render(<SignIn initialRelayUrl={initialRelayUrl} startupError={null} onSignedIn={onSignedIn} />));
  fireEvent.click(screen.getByTestId("mode-sign-up"));
}

async function fillAndSubmit() {
  type("display-name", "Bob");
  type("email", "bob@example.com");
  type("password", "battery staple 9");
  await act(async () => void fireEvent.submit(screen.getByTestId("auth-form")));
}

it("fills in the relay from a pasted link, shows the offer, and signs up with the invitation", async () => {
  answers.previewInvitation = offer;
  answers.signUpWithInvitation = bob;
  await signUpForm("https://another.example.com");
  type("invitation-link", inviteLink(1));
  expect(field("relay-url").value).toBe(RELAY);
  await waitFor(() => expect(screen.getByTestId("invitation-preview").textContent).toBe("Join Studio as member, invited by Ada"));
  expect(calls).toEqual([["previewInvitation", RELAY, inviteLink(1)]]);

  await fillAndSubmit();
  expect(calls).toContainEqual(["signUpWithInvitation", RELAY, "bob@example.com", "battery staple 9", "Bob", inviteLink(1)]);
  expect(calls.some(([name]) => name === "signUp")).toBe(false);
  expect(onSignedIn).toHaveBeenCalledWith(bob, RELAY);
});

it("asks the relay once a paste or typing settles, about the latest link only", async () => {
  answers.previewInvitation = (_relay: string, link: string) => ({ ...offer, team_name: link.endsWith("x") ? "Studio" : "Other" });
  await signUpForm();
  type("invitation-link", inviteLink(1).slice(0, -1) + "y");
  type("invitation-link", inviteLink(1));
  await waitFor(() => expect(screen.getByTestId("invitation-preview").textContent).toContain("Studio"));
  expect(calls.filter(([name]) => name === "previewInvitation")).toEqual([["previewInvitation", RELAY, inviteLink(1)]]);
});

it("says an unknown, used, revoked or expired invitation is no longer valid", async () => {
  failures.previewInvitation = refused("not_found", 404);
  await signUpForm();
  type("invitation-link", inviteLink(1));
  await waitFor(() => expect(screen.getByTestId("invitation-error").textContent).toBe(INVITATION_GONE));
  expect(screen.queryByTestId("invitation-preview")).toBeNull();
});

it("says when the link's relay can't be reached", async () => {
  failures.previewInvitation = { kind: "offline", message: "connection refused" };
  await signUpForm();
  type("invitation-link", inviteLink(1));
  await waitFor(() => expect(screen.getByTestId("invitation-error").textContent).toMatch(/can't be reached: check its address/));
});

it("says what is wrong with text that is not a link, without asking the relay", async () => {
  await signUpForm(RELAY);
  type("invitation-link", "https://relay.example.com/join/abc");
  expect(screen.getByTestId("invitation-error").textContent).toBe(NOT_A_LINK);
  expect(calls).toEqual([]);
});

it("a link that stopped working by the time the account is made says so", async () => {
  answers.previewInvitation = offer;
  // A relay registering by invitation answers an unusable one as if there were none.
  failures.signUpWithInvitation = refused("registration_closed", 403);
  await signUpForm();
  type("invitation-link", inviteLink(1));
  await fillAndSubmit();
  expect(screen.getByTestId("auth-error").textContent).toBe(INVITATION_GONE);
  expect(onSignedIn).not.toHaveBeenCalled();
});

it("without a link, signs up plainly, and a closed relay asks for an invitation", async () => {
  failures.signUp = refused("registration_closed", 403);
  await signUpForm(RELAY);
  await fillAndSubmit();
  expect(calls).toEqual([["signUp", RELAY, "bob@example.com", "battery staple 9", "Bob"]]);
  expect(screen.getByTestId("auth-error").textContent).toMatch(/by invitation only: paste the invitation link/);
});

it("marks the frame that draws the form, once, for the cold-start benchmark", async () => {
  performance.clearMarks(SIGN_IN_READY);
  await act(async () => void render(<SignIn initialRelayUrl="" startupError={null} onSignedIn={onSignedIn} />));
  await waitFor(() => expect(performance.getEntriesByName(SIGN_IN_READY, "mark")).toHaveLength(1));
  cleanup();
  await act(async () => void render(<SignIn initialRelayUrl="" startupError={null} onSignedIn={onSignedIn} />));
  await new Promise((resolve) => requestAnimationFrame(resolve));
  expect(performance.getEntriesByName(SIGN_IN_READY, "mark")).toHaveLength(1);
});

it("signing in to a relay that can't be reached says to check the address, promising nothing", async () => {
  failures.signIn = { kind: "offline", message: "connection refused" };
  await act(async () => void render(<SignIn initialRelayUrl={RELAY} startupError={null} onSignedIn={onSignedIn} />));
  type("email", "bob@example.com");
  type("password", "battery staple 9");
  await act(async () => void fireEvent.submit(screen.getByTestId("auth-form")));
  expect(screen.getByTestId("auth-error").textContent).toBe("Can't reach a relay at this address: check it, or try again once you're connected.");
  expect(onSignedIn).not.toHaveBeenCalled();
});

it("a forgotten password is set again with the administrator's reset link, which fills in the relay", async () => {
  await act(async () => void render(<SignIn initialRelayUrl="" startupError={null} onSignedIn={onSignedIn} />));
  fireEvent.click(screen.getByTestId("forgot-password"));
  type("reset-link", "not a link");
  type("reset-new-password", "a new long password");
  await act(async () => void fireEvent.submit(screen.getByTestId("reset-form")));
  expect(screen.getByTestId("reset-error").textContent).toMatch(/doesn't look like a reset link/);

  const token = "A".repeat(43);
  type("reset-link", `${RELAY}/reset-password/${token}`);
  expect(field("reset-relay-url").value).toBe(RELAY);
  type("reset-new-password", "short");
  await act(async () => void fireEvent.submit(screen.getByTestId("reset-form")));
  expect(screen.getByTestId("reset-error").textContent).toMatch(/at least 8/);
  expect(calls.some(([name]) => name === "resetPassword")).toBe(false);

  failures.resetPassword = refused("not_found", 404);
  type("reset-new-password", "a new long password");
  await act(async () => void fireEvent.submit(screen.getByTestId("reset-form")));
  expect(screen.getByTestId("reset-error").textContent).toMatch(/no longer valid/);

  delete failures.resetPassword;
  await act(async () => void fireEvent.submit(screen.getByTestId("reset-form")));
  expect(calls).toContainEqual(["resetPassword", RELAY, token, "a new long password"]);
  expect(screen.getByTestId("auth-notice").textContent).toBe("Password changed: sign in with the new one.");
  expect(field("relay-url").value).toBe(RELAY);
});

describe("a link the app was opened with", () => {
  async function openedWith(link: OpenedLink, initialRelayUrl: string) {
    const onOpenedTaken = vi.fn();
    const view = await act(async () =>
      render(<SignIn initialRelayUrl={initialRelayUrl} startupError={null} onSignedIn={onSignedIn} opened={link} onOpenedTaken={onOpenedTaken} />),
    );
    expect(onOpenedTaken).toHaveBeenCalled();
    return { ...view, onOpenedTaken };
  }

  it("opens Create account with the invitation and its relay, says the relay is not the person's own; Sign in goes back to theirs", async () => {
    answers.previewInvitation = offer;
    await openedWith({ kind: "invitation", link: inviteLink(1) }, "https://relay.example.com");
    expect(screen.getByTestId("mode-sign-up").getAttribute("aria-selected")).toBe("true");
    expect(field("invitation-link").value).toBe(inviteLink(1));
    expect(field("relay-url").value).toBe(RELAY);
    expect(screen.getByTestId("link-other-relay").textContent).toContain("https://relay.example.com");
    await waitFor(() => expect(screen.getByTestId("invitation-preview").textContent).toBe("Join Studio as member, invited by Ada"));
    expect(calls.some(([name]) => name.startsWith("signUp"))).toBe(false);
    // Any web page can open the app with a link: signing in stays at the person's own relay.
    fireEvent.click(screen.getByTestId("mode-sign-in"));
    expect(field("relay-url").value).toBe("https://relay.example.com");
  });

  it("keeps the link's relay for someone who had none, with nothing to warn of", async () => {
    answers.previewInvitation = offer;
    await openedWith({ kind: "invitation", link: inviteLink(1) }, "");
    expect(screen.queryByTestId("link-other-relay")).toBeNull();
    fireEvent.click(screen.getByTestId("mode-sign-in"));
    expect(field("relay-url").value).toBe(RELAY);
  });

  it("never carries a password typed for one relay over to the link's", async () => {
    answers.previewInvitation = offer;
    const onOpenedTaken = vi.fn();
    const { rerender } = await act(async () =>
      render(<SignIn initialRelayUrl="https://relay.example.com" startupError={null} onSignedIn={onSignedIn} opened={null} onOpenedTaken={onOpenedTaken} />),
    );
    type("email", "bob@example.com");
    type("password", "battery staple 9");
    await act(async () =>
      rerender(<SignIn initialRelayUrl="https://relay.example.com" startupError={null} onSignedIn={onSignedIn} opened={{ kind: "invitation", link: inviteLink(1) }} onOpenedTaken={onOpenedTaken} />),
    );
    expect(field("password").value).toBe("");
    expect(field("relay-url").value).toBe(RELAY);
  });
});
