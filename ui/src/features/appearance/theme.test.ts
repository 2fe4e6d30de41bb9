// The theme choice: applied to <html>, "system" leaving it to the OS, and remembered through the shell.
import { beforeEach, expect, it, vi } from "vitest";
import { calls, reset } from "../../testing/fakeBindings";
import { applyTheme, chooseTheme, isDark } from "./theme";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeEach(() => {
  reset();
  delete document.documentElement.dataset.theme;
});

it("draws the chosen theme and leaves System to the OS", () => {
  applyTheme("dark");
  expect(document.documentElement.dataset.theme).toBe("dark");
  expect(isDark()).toBe(true);
  applyTheme("light");
  expect(isDark()).toBe(false);
  applyTheme("system");
  expect(document.documentElement.dataset.theme).toBeUndefined();
});

it("tells listeners and the shell about a choice", async () => {
  let heard = 0;
  window.addEventListener("teamflow-theme-changed", () => heard++);
  await chooseTheme("dark");
  expect(heard).toBe(1);
  expect(calls.find(([name]) => name === "setTheme")).toEqual(["setTheme", "dark"]);
});
