// A screen that throws, or whose code could not be loaded, says so in its place and offers a reload; the
// next screen chosen is drawn again.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { describeFailure, ScreenBoundary } from "./ScreenBoundary";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

function Broken({ error }: { error: Error }): never {
  throw error;
}

it("shows what went wrong in the screen's place, with a reload, instead of an empty window", () => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  const reload = vi.fn();
  vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, reload });
  render(
    <div>
      <nav>Sidebar</nav>
      <ScreenBoundary resetKey="documents">
        <Broken error={new Error("x is undefined")} />
      </ScreenBoundary>
    </div>,
  );
  expect(screen.getByText("Sidebar")).toBeTruthy();
  const alert = screen.getByRole("alert");
  expect(alert.textContent).toContain("This screen could not be shown");
  expect(alert.textContent).toContain("x is undefined");
  fireEvent.click(screen.getByRole("button", { name: "Reload the window" }));
  expect(reload).toHaveBeenCalled();
});

it("draws the children again once another screen is chosen", () => {
  vi.spyOn(console, "error").mockImplementation(() => {});
  const { rerender } = render(
    <ScreenBoundary resetKey="documents">
      <Broken error={new Error("boom")} />
    </ScreenBoundary>,
  );
  expect(screen.getByTestId("screen-failed")).toBeTruthy();
  rerender(
    <ScreenBoundary resetKey="documents">
      <p>Chat</p>
    </ScreenBoundary>,
  );
  // The same screen stays failed until the person goes elsewhere.
  expect(screen.getByTestId("screen-failed")).toBeTruthy();
  rerender(
    <ScreenBoundary resetKey="chat">
      <p>Chat</p>
    </ScreenBoundary>,
  );
  expect(screen.queryByTestId("screen-failed")).toBeNull();
  expect(screen.getByText("Chat")).toBeTruthy();
});

it("tells a chunk that could not be loaded from a screen that threw", () => {
  // WebKit's words when a lazily loaded chunk is answered with the fallback page (the CI failure).
  expect(describeFailure(new TypeError("'text/html' is not a valid JavaScript MIME type."))).toBe(
    "A part of TeamFlow could not be loaded ('text/html' is not a valid JavaScript MIME type). Reload the window; if it happens again, reinstall TeamFlow.",
  );
  expect(describeFailure(new TypeError("Failed to fetch dynamically imported module: x.js"))).toMatch(/could not be loaded/);
  expect(describeFailure(new Error("x is undefined"))).toMatch(/went wrong while drawing it \(x is undefined\)/);
  expect(describeFailure("a string")).toContain("a string");
});
