// Integrations: connecting shows the webhook URL and the secret once with the provider's steps; Slack and
// Trello need their secret typed; rotating shows the new one; failed events list their reasons; removing asks.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Integration, TeamMembership } from "../../bindings";
import { answers, calls, reset } from "../../testing/fakeBindings";
import { TEAM, userId } from "../../testing/fixtures";
import { Integrations } from "./Integrations";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "admin" };
const github: Integration = {
  id: "0190f1e2-0000-7000-8000-0000000000b1",
  team_id: TEAM,
  service: "github",
  webhook_url: "https://relay.example/api/webhooks/github/0190f1e2-0000-7000-8000-0000000000b1",
  mirror_to_chat: false,
  created_by: userId(1),
  created_at: "2026-12-01T10:00:00Z",
};

beforeEach(reset);
afterEach(cleanup);

it("connects GitHub and shows the URL and the secret once, with GitHub's steps", async () => {
  answers.integrations = [];
  answers.createIntegration = { id: github.id, service: "github", webhook_url: github.webhook_url, secret: "s3cr3t-shown-once" };
  await act(async () => render(<Integrations team={team} />));
  await act(async () => screen.getByTestId("connect-service").click());
  await act(async () => screen.getByTestId("integration-connect").click());
  expect(calls.find(([name]) => name === "createIntegration")).toEqual(["createIntegration", TEAM, { service: "github", secret: null, mirror_to_chat: false }]);
  const shown = screen.getByTestId("integration-secret");
  const values = [...shown.querySelectorAll("input")].map((i) => i.value);
  expect(values).toEqual([github.webhook_url, "s3cr3t-shown-once"]);
  expect(shown.textContent).toContain("Payload URL");
  await act(async () => screen.getByTestId("integration-done").click());
  expect(screen.queryByTestId("integration-secret")).toBeNull();
});

it("asks Slack for its signing secret and offers mirroring to chat", async () => {
  answers.integrations = [];
  answers.createIntegration = { id: "x", service: "slack", webhook_url: "https://relay.example/api/webhooks/slack/x", secret: "sig" };
  await act(async () => render(<Integrations team={team} />));
  await act(async () => screen.getByTestId("connect-service").click());
  fireEvent.change(screen.getByTestId("integration-service"), { target: { value: "slack" } });
  fireEvent.change(screen.getByTestId("integration-secret-input"), { target: { value: "  sig  " } });
  fireEvent.click(screen.getByRole("checkbox"));
  await act(async () => screen.getByTestId("integration-connect").click());
  expect(calls.find(([name]) => name === "createIntegration")?.[2]).toEqual({ service: "slack", secret: "sig", mirror_to_chat: true });
  expect(screen.getByTestId("integration-secret").textContent).toContain("Event Subscriptions");
});

it("rotates, lists failed events with reasons, and removes after confirming", async () => {
  answers.integrations = [{ ...github, disabled: "creator_removed" }];
  answers.rotateIntegration = { id: github.id, service: "github", webhook_url: github.webhook_url, secret: "new-secret" };
  answers.integrationFailures = [{ event_id: "e1", event_type: "push", reason: "validation_failed: content", attempts: 1, received_at: "2026-12-01T10:00:00Z", failed_at: "2026-12-01T10:00:01Z" }];
  await act(async () => render(<Integrations team={team} />));
  expect(screen.getByTestId("integration-disabled").textContent).toContain("rotate the secret");
  await act(async () => screen.getByTestId("integration-rotate").click());
  expect(calls.find(([name]) => name === "rotateIntegration")).toEqual(["rotateIntegration", TEAM, github.id, null]);
  expect([...screen.getByTestId("integration-secret").querySelectorAll("input")].map((i) => i.value)).toContain("new-secret");
  await act(async () => screen.getByTestId("integration-failures").click());
  expect(screen.getByTestId("failure-list").textContent).toContain("validation_failed: content");
  await act(async () => screen.getByTestId("integration-remove").click());
  expect(calls.some(([name]) => name === "deleteIntegration")).toBe(false);
  await act(async () => screen.getByTestId("integration-confirm-remove").click());
  expect(calls.find(([name]) => name === "deleteIntegration")).toEqual(["deleteIntegration", TEAM, github.id]);
});

it("the connect dialog takes the focus and closes with Escape wherever the focus is", async () => {
  answers.integrations = [];
  await act(async () => void render(<Integrations team={{ id: TEAM, name: "crew", role: "owner" }} />));
  await act(async () => void fireEvent.click(screen.getByTestId("connect-service")));
  expect(document.activeElement).toBe(screen.getByTestId("integration-service"));
  (document.activeElement as HTMLElement).blur();
  await act(async () => void fireEvent.keyDown(window, { key: "Escape" }));
  expect(screen.queryByTestId("connect-dialog")).toBeNull();
});

it("says when an integration refuses deliveries, why and what to do, and when one last arrived", async () => {
  const refusing = { at: "2026-12-01T11:00:00Z", reason: "invalid_signature: the webhook signature did not verify" };
  answers.integrations = [
    { ...github, refusing },
    { ...github, id: "b2", last_delivery_at: "2026-12-01T10:30:00Z" },
    { ...github, id: "b3", service: "slack", refusing: { at: refusing.at, reason: "validation_failed: missing event_id" } },
    // Refused requests beside deliveries taken: someone else is sending; the secret is not to be rotated.
    { ...github, id: "b4", last_delivery_at: "2026-12-01T11:05:00Z", refusing },
  ];
  await act(async () => render(<Integrations team={team} />));
  const [bad, good, unreadable, both] = screen.getAllByTestId("integration");
  expect(bad.querySelector("[data-testid=integration-refusing]")).not.toBeNull();
  expect(bad.querySelector("[data-testid=integration-active]")).toBeNull();
  const said = bad.querySelector("[data-testid=integration-delivery]")?.textContent ?? "";
  expect(said).toContain("signature does not match");
  expect(said).toContain("rotate it here");
  expect(bad.querySelector("time")?.getAttribute("dateTime")).toBe(refusing.at);
  expect(good.querySelector("[data-testid=integration-active]")).not.toBeNull();
  expect(good.querySelector("[data-testid=integration-delivery]")?.textContent).toContain("Last delivery");
  expect(unreadable.querySelector("[data-testid=integration-delivery]")?.textContent).toContain("Slack is sending something the relay cannot read: missing event_id");
  const mixed = both.querySelector("[data-testid=integration-delivery]")?.textContent ?? "";
  expect(mixed).toContain("Some requests were refused");
  expect(mixed).toContain("invalid signature");
  expect(mixed).toContain("GitHub's deliveries arrive");
  expect(mixed).not.toContain("rotate it here");
  expect([...both.querySelectorAll("time")].map((t) => t.getAttribute("dateTime"))).toEqual([refusing.at, "2026-12-01T11:05:00Z"]);
});

it("warns that a provider cannot reach a webhook URL on the relay's own machine", async () => {
  answers.integrations = [{ ...github, id: "local", webhook_url: "http://0.0.0.0:8443/api/webhooks/github/x" }, github];
  await act(async () => render(<Integrations team={team} />));
  const [local, public_] = screen.getAllByTestId("integration");
  expect(local.querySelector("[data-testid=integration-unreachable]")?.textContent).toContain("--public-url");
  expect(public_.querySelector("[data-testid=integration-unreachable]")).toBeNull();
  expect(public_.querySelector("[data-testid=integration-delivery]")?.textContent).toContain("Nothing delivered yet");
});
