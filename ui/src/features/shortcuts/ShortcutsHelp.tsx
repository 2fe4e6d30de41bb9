// The shortcuts overlay (`?`): a modal dialog listing every shortcut; Esc, the button or a click outside
// closes it, and focus returns where it was.
import { useEffect, useRef } from "react";
import { MAC, shortcutList } from "./shortcuts";

export function ShortcutsHelp({ sections, onClose }: { sections: string[]; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      before?.focus?.();
    };
  }, []);

  return (
    <div className="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog shortcuts" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title" data-testid="shortcuts-help">
        <header>
          <h2 id="shortcuts-title">Keyboard shortcuts</h2>
          <button ref={close} className="close" onClick={onClose} aria-label="Close" data-testid="shortcuts-close">
            ×
          </button>
        </header>
        <table>
          <tbody>
            {shortcutList(MAC, sections).map((s) => (
              <tr key={s.what}>
                <th scope="row">
                  {s.keys.map((k, i) => (
                    <span key={k}>
                      {i > 0 && " + "}
                      <kbd>{k}</kbd>
                    </span>
                  ))}
                </th>
                <td>{s.what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
