// The search palette (Ctrl/Cmd+K): one box over the messages, projects and documents of all my teams,
// answered by the node's local index, so it works offline. Arrow keys move, Enter opens, Escape closes.
import { Fragment, useEffect, useRef, useState } from "react";
import { commands, type SearchHit, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { parts } from "./marks";

/** How long typing must pause before a search runs. */
const PAUSE_MS = 120;
const LIMIT = 20;

function Marked({ text }: { text: string }) {
  return (
    <>
      {parts(text).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <Fragment key={i}>{p.text}</Fragment>))}
    </>
  );
}

function kindLabel(hit: SearchHit): string {
  switch (hit.target.kind) {
    case "message":
      return "Message";
    case "project":
      return "Project";
    case "document":
      return "Document";
  }
}

export function SearchPalette(props: { teams: TeamMembership[]; onOpen: (hit: SearchHit) => void; onClose: () => void }) {
  const { teams, onOpen, onClose } = props;
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [selected, setSelected] = useState(0);
  const [searched, setSearched] = useState("");
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  // Answers can arrive out of order: only the latest query's is shown.
  const latest = useRef(0);

  useEffect(() => input.current?.focus(), []);

  useEffect(() => {
    const q = query.trim();
    const ticket = ++latest.current;
    if (q === "") {
      setHits([]);
      setSearched("");
      return;
    }
    const timer = setTimeout(() => {
      call(commands.search(q, LIMIT)).then(
        (found) => {
          if (ticket !== latest.current) return;
          setHits(found);
          setSelected(0);
          setSearched(q);
          setError(null);
        },
        (e) => {
          if (ticket === latest.current) setError(messageOf(e));
        },
      );
    }, PAUSE_MS);
    return () => clearTimeout(timer);
  }, [query]);

  function onKeyDown(e: React.KeyboardEvent) {
    if (e.key === "Escape") {
      e.preventDefault();
      onClose();
    } else if (e.key === "ArrowDown" && hits.length > 0) {
      e.preventDefault();
      setSelected((s) => (s + 1) % hits.length);
    } else if (e.key === "ArrowUp" && hits.length > 0) {
      e.preventDefault();
      setSelected((s) => (s - 1 + hits.length) % hits.length);
    } else if (e.key === "Enter" && hits[selected]) {
      e.preventDefault();
      onOpen(hits[selected]);
    }
  }

  const teamName = (id: string) => teams.find((t) => t.id === id)?.name ?? "a team";
  return (
    <div className="palette-backdrop" onMouseDown={onClose}>
      <div
        className="palette"
        role="dialog"
        aria-modal="true"
        aria-label="Search"
        data-testid="search-palette"
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={onKeyDown}
      >
        <input
          ref={input}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="Search messages, projects and documents"
          aria-label="Search"
          role="combobox"
          aria-expanded={hits.length > 0}
          aria-controls="search-results"
          aria-activedescendant={hits.length > 0 ? `search-hit-${selected}` : undefined}
          data-testid="search-input"
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {query.trim() === "" && <p className="hint">Type to search every team you are in. Works offline, too.</p>}
        {searched !== "" && hits.length === 0 && !error && (
          <p className="hint" data-testid="search-empty">
            Nothing matches “{searched}”.
          </p>
        )}
        <ul id="search-results" role="listbox" aria-label="Results" data-testid="search-results">
          {hits.map((hit, i) => (
            <li
              key={`${hit.team_id}-${hit.target.kind}-${i}`}
              id={`search-hit-${i}`}
              role="option"
              aria-selected={i === selected}
              className={i === selected ? "selected" : ""}
              onMouseEnter={() => setSelected(i)}
              onClick={() => onOpen(hit)}
              data-testid="search-hit"
              data-kind={hit.target.kind}
            >
              <span className="kind">
                {kindLabel(hit)} · {teamName(hit.team_id)}
              </span>
              <span className="title">
                <Marked text={hit.title} />
              </span>
              {hit.snippet && (
                <span className="snippet">
                  <Marked text={hit.snippet} />
                </span>
              )}
            </li>
          ))}
        </ul>
        <p className="keys" aria-hidden="true">
          ↑↓ to move · Enter to open · Esc to close
        </p>
      </div>
    </div>
  );
}
