// The collaborative editor: a textarea whose keystrokes show at once (see `DocSession`), teammates'
// cursors and names drawn over it, Markdown formatting with shortcuts, and history to view earlier
// versions.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { commands, events, type Presence, type Status } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { all, subscribe } from "../../lib/events";
import { DocState } from "../sync/SyncIndicator";
import { applyFormat, type Format, formatForKey } from "./format";
import { versions, type Version } from "./history";
import { DocSession, type SessionView } from "./session";
import { type Caret, markdownRanges, pieces, type Range } from "./decorate";
import { toCodePoints, toUtf16 } from "./text";
import { ErrorLine } from "../../lib/ErrorLine";

export function Editor(props: { url: string; title: string; status: Status; readOnly: boolean; onClose: () => void }) {
  const { url } = props;
  const [view, setView] = useState<SessionView | null>(null);
  const [peers, setPeers] = useState<Presence[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [history, setHistory] = useState<Version[] | null>(null);
  const [past, setPast] = useState<{ version: Version; text: string } | null>(null);
  const session = useRef<DocSession | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const mirror = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let closed = false;
    const api = {
      edit: (base: string[], edits: { position: number; delete: number; insert: string }[]) => call(commands.editDocument(url, base, edits)),
      since: (heads: string[]) => call(commands.documentSince(url, heads)),
    };
    call(commands.openDocument(url)).then(
      (opened) => {
        if (closed) return;
        const s = new DocSession(api, opened, setView);
        session.current = s;
        setView(s.view());
      },
      (e) => setError(messageOf(e)),
    );
    const listening = all(
      subscribe(events.documentChanged, (payload) => {
        if (payload.url === url) session.current?.remoteChanged();
      }),
      subscribe(events.presenceChanged, (payload) => {
        if (payload.url === url) setPeers(payload.peers);
      }),
    );
    return () => {
      closed = true;
      listening();
      call(commands.closeDocument(url)).catch(() => {});
    };
  }, [url]);

  // Puts the DOM selection where the session says (it moves when teammates type before it).
  useLayoutEffect(() => {
    const el = area.current;
    if (!el || !view || el.value === view.text) return;
    el.value = view.text;
    el.setSelectionRange(toUtf16(view.text, Math.min(view.selection.anchor, view.selection.head)), toUtf16(view.text, Math.max(view.selection.anchor, view.selection.head)));
  }, [view]);

  function selectionOf(el: HTMLTextAreaElement) {
    const text = el.value;
    return { anchor: toCodePoints(text, el.selectionStart), head: toCodePoints(text, el.selectionEnd) };
  }

  function onInput() {
    const el = area.current;
    if (!el || !session.current) return;
    const selection = selectionOf(el);
    session.current.input(el.value, selection);
    setView(session.current.view());
    shareCursor(selection);
  }

  function shareCursor(selection: { anchor: number; head: number }) {
    call(commands.setCursor(url, selection.anchor, selection.head)).catch(() => {});
  }

  function onSelect() {
    const el = area.current;
    if (!el || !session.current) return;
    const selection = selectionOf(el);
    session.current.select(selection);
    shareCursor(selection);
  }

  function format(kind: Format) {
    const el = area.current;
    if (!el || props.readOnly) return;
    const r = applyFormat(el.value, el.selectionStart, el.selectionEnd, kind);
    el.value = r.text;
    el.setSelectionRange(r.start, r.end);
    onInput();
    el.focus();
  }

  async function showHistory() {
    try {
      setHistory(versions(await call(commands.documentHistory(url))));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function viewVersion(version: Version) {
    try {
      setPast({ version, text: await call(commands.documentAt(url, [version.hash])) });
    } catch (e) {
      setError(messageOf(e));
    }
  }

  // The text drawn under the textarea: Markdown styles, teammates' selections and carets.
  const drawn = useMemo(() => {
    if (!view) return null;
    const selections: Range[] = [];
    const carets: Caret[] = [];
    for (const p of peers) {
      if (!p.cursor) continue;
      const { anchor, head } = p.cursor;
      if (anchor !== head) selections.push({ start: Math.min(anchor, head), end: Math.max(anchor, head), color: `${p.color}33` });
      carets.push({ key: p.peerId, at: head, name: p.name, color: p.color });
    }
    return pieces(view.text, [...markdownRanges(view.text), ...selections], carets).map((piece, i) =>
      piece.kind === "caret" ? (
        <span key={`c-${piece.caret.key}`} className="remote-caret" style={{ borderColor: piece.caret.color }} data-testid="remote-caret">
          <span className="remote-name" style={{ background: piece.caret.color }}>
            {piece.caret.name}
          </span>
        </span>
      ) : (
        <span key={i} className={piece.classes.join(" ") || undefined} style={piece.background ? { background: piece.background } : undefined}>
          {piece.text}
        </span>
      ),
    );
  }, [view?.text, peers]);

  return (
    <section className="editor">
      <header>
        <button className="link" onClick={props.onClose}>
          ← Documents
        </button>
        <h2>{props.title}</h2>
        <DocState status={props.status} url={url} />
        <ul className="peers" data-testid="peers">
          {peers.map((p) => (
            <li key={p.peerId} style={{ background: p.color }} title={p.name}>
              {p.name}
            </li>
          ))}
        </ul>
      </header>
      <div className="toolbar" role="toolbar" aria-label="Formatting">
        <button onClick={() => format("bold")} title="Bold (Ctrl+B)" disabled={props.readOnly}>
          <b>B</b>
        </button>
        <button onClick={() => format("italic")} title="Italic (Ctrl+I)" disabled={props.readOnly}>
          <i>I</i>
        </button>
        <button onClick={() => format("heading")} title="Heading (Ctrl+Alt+1)" disabled={props.readOnly}>
          H
        </button>
        <button onClick={() => format("list")} title="List (Ctrl+Alt+8)" disabled={props.readOnly}>
          •
        </button>
        <button onClick={() => format("link")} title="Link (Ctrl+K)" disabled={props.readOnly}>
          Link
        </button>
        <span className="spacer" />
        {view?.pending && <span className="marker">Saving…</span>}
        <button onClick={() => (history ? setHistory(null) : void showHistory())} data-testid="history">
          History
        </button>
      </div>
      <ErrorLine error={error ?? view?.error} />
      <div className="editor-body">
        {past ? (
          <div className="past" data-testid="past-version">
            <p className="marker">
              Viewing the version of {new Date(past.version.to).toLocaleString()}.{" "}
              <button className="link" onClick={() => setPast(null)}>
                Back to the live document
              </button>
            </p>
            <pre>{past.text}</pre>
          </div>
        ) : !view ? (
          // Not editable until the document is open: keystrokes typed into a text that is not there yet
          // would have nowhere to go.
          <p className="marker" data-testid="opening">
            Opening…
          </p>
        ) : (
          <div className="surface">
            <div className="mirror" ref={mirror} aria-hidden>
              {drawn}
              {"\n"}
            </div>
            <textarea
              ref={area}
              defaultValue={view.text}
              readOnly={props.readOnly}
              spellCheck
              onInput={onInput}
              onSelect={onSelect}
              onScroll={(e) => {
                if (mirror.current) mirror.current.scrollTop = e.currentTarget.scrollTop;
              }}
              onKeyDown={(e) => {
                const kind = formatForKey(e);
                if (kind) {
                  e.preventDefault();
                  format(kind);
                }
              }}
              data-testid="editor"
              aria-label={props.title}
            />
          </div>
        )}
        {history && (
          <ol className="history" data-testid="history-list">
            {history.map((v) => (
              <li key={v.hash}>
                <button className="link" onClick={() => viewVersion(v)}>
                  {new Date(v.to).toLocaleString()}
                </button>
                <span className="marker">
                  {" "}
                  {v.changes} change{v.changes === 1 ? "" : "s"} · device {v.actor.slice(0, 6)}
                </span>
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}
