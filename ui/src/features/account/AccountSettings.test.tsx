// The account panel: a new name goes to the relay and to the app; a password is checked against the relay's
// bounds before it is sent; each refusal reads as what to do; signing out everywhere and deleting say what
// unsent work this device would lose, and only a confirmed, accepted request signs out.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Status, User } from "../../bindings";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { linkStatus, refused, userId } from "../../testing/fixtures";
import { passwordProblem } from "../../lib/password";
import { setStatus } from "../sync/status";
import { AccountSettings } from "./AccountSettings";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const ada: User = { id: userId(1), email: "ada@example.com", display_name: "Ada" };
const onUserChanged = vi.fn<(user: User) => void>();
const onSignedOut = vi.fn<() => void>();

beforeEach(() => {
  reset();
  onUserChanged.mockReset();
  onSignedOut.mockReset();
});
afterEach(cleanup);

async function show(status: Status = linkStatus("online")) {
  setStatus(status);
  await act(async () => void render(<AccountSettings user={ada} onUserChanged={onUserChanged} onSignedOut={onSignedOut} />));
}
const type = (testId: string, value: string) => fireEvent.change(screen.getByTestId(testId), { target: { value } });
const submit = (testId: string) => act(async () => void fireEvent.submit(screen.getByTestId(testId)));

it("saves a new display name and hands the relay's account to the app", async () => {
  answers.updateDisplayName = { ...ada, display_name: "Ada L." };
  await show();
  type("account-display-name", "  Ada L. ");
  await submit("display-name-form");
  expect(calls).toContainEqual(["updateDisplayName", "Ada L."]);
  expect(onUserChanged).toHaveBeenCalledWith({ ...ada, display_name: "Ada L." });
  expect(screen.getByTestId("display-name-saved")).toBeTruthy();
});

it("checks a new password's length before asking the relay, and says when the current one is wrong", async () => {
  expect(passwordProblem("short")).toMatch(/at least 8/);
  expect(passwordProblem("x".repeat(129))).toMatch(/at most 128/);
  expect(passwordProblem("long enough")).toBeNull();
  await show();
  type("current-password", "old password");
  type("new-password", "short");
  await submit("password-form");
  expect(screen.getByTestId("password-error").textContent).toMatch(/at least 8/);
  expect(calls.some(([name]) => name === "changePassword")).toBe(false);

  failures.changePassword = refused("validation_failed", 422);
  type("new-password", "a new long password");
  await submit("password-form");
  expect(screen.getByTestId("password-error").textContent).toBe("The current password is not correct.");

  delete failures.changePassword;
  await submit("password-form");
  expect(calls).toContainEqual(["changePassword", "old password", "a new long password"]);
  expect(screen.getByTestId("password-changed").textContent).toMatch(/other devices were signed out/);
  expect((screen.getByTestId("current-password") as HTMLInputElement).value).toBe("");
});

it("signs out everywhere only once confirmed, naming the unsent work this device loses", async () => {
  await show({ ...linkStatus("online"), pending: 2 });
  await act(async () => void fireEvent.click(screen.getByTestId("start-sign-out-everywhere")));
  expect(screen.getByTestId("sign-out-everywhere-unsent").textContent).toMatch(/2 changes not sent/);
  expect(screen.getByTestId("delete-account-unsent").textContent).toMatch(/2 changes not sent/);
  expect(onSignedOut).not.toHaveBeenCalled();
  await act(async () => void fireEvent.click(screen.getByTestId("confirm-sign-out-everywhere")));
  expect(calls).toContainEqual(["signOutEverywhere"]);
  expect(onSignedOut).toHaveBeenCalledTimes(1);
});

it("a refused deletion keeps the person signed in and says why", async () => {
  await show();
  expect(screen.queryByTestId("delete-account-unsent")).toBeNull();
  failures.deleteAccount = refused("conflict", 409);
  type("delete-account-password", "my password");
  await submit("delete-account");
  expect(screen.getByTestId("delete-account-error").textContent).toMatch(/last owner of a team/);
  failures.deleteAccount = refused("validation_failed", 422);
  await submit("delete-account");
  expect(screen.getByTestId("delete-account-error").textContent).toBe("The password is not correct.");
  failures.deleteAccount = { kind: "offline", message: "connection refused" };
  await submit("delete-account");
  expect(screen.getByTestId("delete-account-error").textContent).toMatch(/account changes need it/);
  expect(onSignedOut).not.toHaveBeenCalled();

  delete failures.deleteAccount;
  await submit("delete-account");
  expect(calls).toContainEqual(["deleteAccount", "my password"]);
  expect(onSignedOut).toHaveBeenCalledTimes(1);
});
