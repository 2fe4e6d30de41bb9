// The colour theme: the OS's by default, or light or dark as chosen in Settings. The choice is kept by the
// desktop shell in its settings file (so it survives restarts) and drawn through an attribute on <html>
// that styles.css reads.
import { commands, type Theme } from "../../bindings";
import { call } from "../../lib/call";

/** Fired on window when the drawn theme may have changed (a choice here, or the OS's switch). */
export const THEME_CHANGED = "teamflow-theme-changed";

/** Draws the page in `choice`. */
export function applyTheme(choice: Theme, root: HTMLElement = document.documentElement) {
  if (choice === "system") delete root.dataset.theme;
  else root.dataset.theme = choice;
  window.dispatchEvent(new Event(THEME_CHANGED));
}

/** Draws and remembers a choice made in Settings. */
export async function chooseTheme(choice: Theme): Promise<void> {
  applyTheme(choice);
  await call(commands.setTheme(choice));
}

/** At start-up: the remembered choice, and a notice whenever the OS switches while following it. */
export async function applyStoredTheme(): Promise<Theme> {
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", () => window.dispatchEvent(new Event(THEME_CHANGED)));
  // Absent in a settings file from before the choice existed.
  const theme = (await call(commands.settings())).theme ?? "system";
  applyTheme(theme);
  return theme;
}

/** Whether the page is drawn dark now. */
export function isDark(root: HTMLElement = document.documentElement): boolean {
  const choice = root.dataset.theme;
  if (choice === "dark") return true;
  if (choice === "light") return false;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}
