// Which presses are shortcuts, and that `?` typed into a field stays text.
import { expect, it } from "vitest";
import { isTyping, shortcutFor, shortcutList } from "./shortcuts";

const press = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}, target: EventTarget | null = document.body) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target,
  ...mods,
});

it("Ctrl+K and Cmd+K search, Alt+digit goes to a section", () => {
  expect(shortcutFor(press("k", { ctrlKey: true }))).toEqual({ type: "search" });
  expect(shortcutFor(press("K", { metaKey: true }))).toEqual({ type: "search" });
  expect(shortcutFor(press("3", { altKey: true }))).toEqual({ type: "section", index: 2 });
  expect(shortcutFor(press("0", { altKey: true }))).toBeNull();
  expect(shortcutFor(press("k"))).toBeNull();
});

it("? opens the help except while typing", () => {
  expect(shortcutFor(press("?"))).toEqual({ type: "help" });
  const input = document.createElement("input");
  const checkbox = Object.assign(document.createElement("input"), { type: "checkbox" });
  const area = document.createElement("textarea");
  const editable = document.createElement("div");
  editable.setAttribute("contenteditable", "true");
  const inside = document.createElement("p");
  editable.append(inside);
  document.body.append(editable);
  for (const target of [input, area, inside]) {
    expect(isTyping(target)).toBe(true);
    expect(shortcutFor(press("?", {}, target))).toBeNull();
  }
  expect(shortcutFor(press("?", {}, checkbox))).toEqual({ type: "help" });
  expect(shortcutFor(press("?", { ctrlKey: true }))).toBeNull();
  editable.remove();
});

it("the list names ⌘ and ⌥ on macOS and every section", () => {
  const list = shortcutList(true, ["Chat", "Projects"]);
  expect(list[0].keys).toEqual(["⌘", "K"]);
  expect(list.filter((s) => s.what.startsWith("Go to")).map((s) => s.keys.join("+"))).toEqual(["⌥+1", "⌥+2"]);
  expect(shortcutList(false, ["Chat"]).filter((s) => s.what.startsWith("Go to")).map((s) => s.keys.join("+"))).toEqual(["Alt+1"]);
  expect(shortcutList(false, [])[0].keys[0]).toBe("Ctrl");
});

it("Alt with a digit key goes to a section whatever the layout types (AZERTY's &, macOS's ¡)", () => {
  expect(shortcutFor({ ...press("&", { altKey: true }), code: "Digit1" })).toEqual({ type: "section", index: 0 });
  expect(shortcutFor({ ...press("¡", { altKey: true }), code: "Digit1" })).toEqual({ type: "section", index: 0 });
  expect(shortcutFor({ ...press("à", { altKey: true }), code: "Digit0" })).toBeNull();
  expect(shortcutFor({ ...press("&"), code: "Digit1" })).toBeNull();
});
