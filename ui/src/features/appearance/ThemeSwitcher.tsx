// Settings › Appearance: System, Light or Dark, as a radio group (arrow keys move between them).
import { useEffect, useState } from "react";
import { commands, type Theme } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { chooseTheme } from "./theme";

const CHOICES: [Theme, string][] = [
  ["system", "System"],
  ["light", "Light"],
  ["dark", "Dark"],
];

export function ThemeSwitcher() {
  const [choice, setChoice] = useState<Theme | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call(commands.settings()).then((s) => setChoice(s.theme ?? "system"), (e) => setError(messageOf(e)));
  }, []);

  function pick(value: Theme) {
    setChoice(value);
    chooseTheme(value).catch((e) => setError(messageOf(e)));
  }

  return (
    <fieldset className="appearance" data-testid="theme-switcher">
      <legend>Appearance</legend>
      {CHOICES.map(([value, label]) => (
        <label key={value}>
          <input type="radio" name="theme" value={value} checked={choice === value} onChange={() => pick(value)} data-testid={`theme-${value}`} />
          {label}
        </label>
      ))}
      <p className="hint">System follows your computer's light or dark setting.</p>
      <ErrorLine error={error} onDismiss={() => setError(null)} />
    </fieldset>
  );
}
