// The collaborative editor: ProseMirror on the document's Automerge rich text (through the window's repo,
// synced with the node), with a toolbar, Markdown shortcuts, teammates' carets and names, history to view
// earlier versions, Markdown to copy, and exports to Markdown and HTML files.
import type { DocHandle, Repo } from "@automerge/automerge-repo/slim";
import { next as A } from "@automerge/automerge/slim";
import { commitTyping, pmDocFromSpans, typingWaits } from "@automerge/prosemirror";
import type { Node } from "prosemirror-model";
import { type Command, EditorState } from "prosemirror-state";
import { EditorView, type NodeViewConstructor } from "prosemirror-view";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "react";
import { commands, events, type Presence, type TeamId, type UserId } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { dateTime } from "../../lib/dates";
import { all, subscribe } from "../../lib/events";
import { ErrorLine } from "../../lib/ErrorLine";
import { markOpening, measureOpening, recordKeyPhases } from "../../lib/readiness";
import { currentStatus } from "../sync/status";
import { DocState } from "../sync/SyncIndicator";
import { setCarets, textIndex } from "./carets";
import { active, insertRule, redo, setLink, toggleBlock, toggleList, toggleMark, toggleQuote, toolbarShows, undo } from "./commands";
import { versions, whose, type Version } from "./history";
import { exportText, type ExportFormat } from "./export";
import { inStep, watchStep, whenInStep } from "./inStep";
import { needsConversion, toMarkdown } from "./markdown";
import { convertOnce, settledWithRelay, whenStatus } from "./migration";
import { afterFrame } from "./frames";
import { afterPaint, findDocument, previewDoc } from "./opening";
import { fromBase64, sharedRepo } from "./pipe";
import { adapter, schema, TEXT_PATH } from "./schema";
import { applyKeepingCaret, currentDoc, editorState } from "./state";
import { rehearseWhileIdle } from "./rehearsal";
import { WARM_FROM_CHARS, warmTypingOnce } from "./warmup";

type Doc = { text: string };

/// How long an old document's conversion waits for the relay's changes and the node's answer.
const SETTLE_MS = 10_000;

export function Editor(props: { url: string; title: string; team: TeamId; me: UserId; readOnly: boolean; onClose: () => void }) {
  const { url, readOnly } = props;
  const [handle, setHandle] = useState<DocHandle<Doc> | null>(null);
  const [peers, setPeers] = useState<Presence[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [history, setHistory] = useState<Version[] | null>(null);
  // The team's members by user id, to name versions; null when they could not be read.
  const [names, setNames] = useState<Map<string, string> | null>(null);
  const [past, setPast] = useState<{ version: Version; doc: Node } | null>(null);
  const [linking, setLinking] = useState<string | null>(null);
  const [previewing, setPreviewing] = useState(false);
  // Where the last Copy or Export went, said under the toolbar until the next.
  const [sent, setSent] = useState<{ to: "clipboard"; past: boolean } | { to: "file"; path: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const mount = useRef<HTMLDivElement>(null);
  const pastMount = useRef<HTMLDivElement>(null);
  const previewMount = useRef<HTMLDivElement>(null);
  const preview = useRef<EditorView | null>(null);
  const view = useRef<EditorView | null>(null);
  const repoOf = useRef<Repo | null>(null);

  // Opening: the node opens the document (and shows this person on it); meanwhile the preview it kept is
  // drawn, read-only. The window's repo then loads the document (in one piece when it does not hold it yet)
  // and syncs it with the node. A document written before the rich editor is converted once
  // (docs/desktop.md).
  useEffect(() => {
    let closed = false;
    (async () => {
      markOpening("start");
      const kept = call(commands.documentPreview(url)).catch(() => null);
      const opened = call(commands.openDocument(url));
      const drawn = previewDoc(await kept);
      if (drawn && previewMount.current && !closed) {
        preview.current?.destroy();
        preview.current = new EditorView(previewMount.current, {
          state: EditorState.create({ schema, doc: drawn }),
          editable: () => false,
          nodeViews: { check_item: checkItemView(true) },
          attributes: { "data-testid": "editor-preview", "aria-label": `${props.title} (loading)`, class: "rich" },
        });
        setPreviewing(true);
        // On screen before the document's load holds the page.
        await afterPaint();
        markOpening("preview-drawn");
      }
      await opened;
      markOpening("node-opened");
      const repo = await sharedRepo();
      repoOf.current = repo;
      const found = await findDocument<Doc>(repo, url, async () => {
        const saved = fromBase64(await call(commands.documentSaved(url)));
        markOpening("saved-read");
        return saved;
      });
      markOpening("imported");
      if (closed) return;
      let convert = !readOnly && needsConversion(found.doc());
      markOpening("checked");
      if (convert) {
        // Converted only with everything the relay has (another device may have converted it already),
        // and as the same change every device makes (`migration.ts`). Not waited for without end: offline,
        // or with the node busy, the document is converted from what is here.
        const deadline = Date.now() + SETTLE_MS;
        await whenStatus(currentStatus, (s) => settledWithRelay(s, url), SETTLE_MS);
        await whenInStep(repo, found as DocHandle<unknown>, Math.max(0, deadline - Date.now()));
        convert = !closed && needsConversion(found.doc());
      }
      if (convert) {
        // Marked apart: a long document's conversion takes seconds, and should happen only once.
        markOpening("converting");
        await convertOnce(found as DocHandle<unknown>);
      }
      markOpening("converted");
      if (closed) return;
      // A long document's first keystrokes run compiled code, not interpreted (`warmup.ts`).
      if (!readOnly && warmTypingOnce(found.doc())) markOpening("warmed");
      setHandle(found);
    })().catch((e) => setError(messageOf(e)));
    const listening = all(
      subscribe(events.presenceChanged, (payload) => {
        if (payload.url === url) setPeers(payload.peers);
      }),
    );
    return () => {
      closed = true;
      preview.current?.destroy();
      preview.current = null;
      listening();
      call(commands.closeDocument(url)).catch(() => {});
    };
  }, [url, readOnly]);

  // The editor itself, once the document is here.
  useEffect(() => {
    if (!handle || !mount.current) return;
    // Whether the person has been in the editor: only then is the selection theirs to share.
    let placed = false;
    // While a key is rehearsed (below): what the editor dispatches stays in its state, and its focus is not the person's.
    let rehearsing = false;
    const editor = new EditorView(mount.current, {
      // A key is drawn first and goes into the document right after its frame (`afterFrame`).
      state: editorState(handle as never, props.me, afterFrame),
      editable: () => !readOnly,
      nodeViews: { check_item: checkItemView(readOnly) },
      // In the editor now (a click, Tab, or a toolbar command that focuses it after its change): from here
      // on the selection is the person's own, and teammates see where it is.
      handleDOMEvents: {
        focus: (v) => {
          if (rehearsing) return false;
          placed = true;
          shareCursorSoon(v);
          return false;
        },
      },
      attributes: { "data-testid": "editor", "aria-label": props.title, class: "rich", spellcheck: "true" },
      dispatchTransaction(tr) {
        if (rehearsing) return editor.updateState(editor.state.apply(tr));
        const before = editor.state.selection;
        const t0 = performance.now();
        const next = applyKeepingCaret(editor.state, tr);
        const t1 = performance.now();
        editor.updateState(next);
        const t2 = performance.now();
        // Only once the person has been in the editor: until then their selection is ProseMirror's
        // default at the start, and a teammate's edit arriving would show them a caret nobody placed.
        if (editor.hasFocus()) placed = true;
        if (placed && (!editor.state.selection.eq(before) || tr.docChanged)) shareCursorSoon(editor);
        // The toolbar is all this component draws from the editor's state: rendered again only when what it
        // shows changed, not on every keystroke.
        const shows = toolbarShows(editor.state);
        if (shows !== toolbar) {
          toolbar = shows;
          redraw();
        }
        if (tr.docChanged) recordKeyPhases({ at: t0, state: t1 - t0, view: t2 - t1, rest: performance.now() - t2 });
      },
    });
    let toolbar = toolbarShows(editor.state);
    view.current = editor;
    preview.current?.destroy();
    preview.current = null;
    setPreviewing(false);
    redraw();
    markOpening("editor-drawn");
    // A long document's first keys are typed once, unseen, right after the editor is first drawn, so that
    // the person's first keys are not the first the browser and the view handle there (`rehearsal.ts`);
    // only while the page is idle.
    if (!readOnly && editor.state.doc.content.size >= WARM_FROM_CHARS) {
      let start = 0;
      const stage = {
        nextTask: afterPaint,
        ours: () => view.current === editor && !placed,
        during(on: boolean) {
          rehearsing = on;
          if (on) start = performance.now();
          else measureOpening("rehearsal", start);
        },
      };
      rehearseWhileIdle(editor, stage)
        .then((all) => {
          if (all) markOpening("rehearsed");
        })
        .catch((e) => console.warn("rehearsing the first keys failed:", e));
    }
    // Teammates see the caret after this frame is drawn, not before: finding its index in the Automerge
    // text walks the document's blocks whenever the last change left no position index to carry (a new
    // block, a mark), milliseconds on a long document that the keystroke's own frame should not wait for.
    // Keys typed meanwhile share one position, the latest.
    let sharing = false;
    function shareCursorSoon(v: EditorView) {
      if (sharing) return;
      sharing = true;
      void afterPaint().then(() => {
        sharing = false;
        if (view.current === v) shareCursor(v);
      });
    }
    function shareCursor(v: EditorView) {
      // The caret's index is read in the document, which has the keys once they are committed after their
      // frame (`frames.ts`); committing them here could hold back the frame of a key typed meanwhile.
      if (typingWaits()) return shareCursorSoon(v);
      const doc = currentDoc(handle!);
      const { anchor, head } = v.state.selection;
      // A caret (no selection) is one position: mapped once, not twice.
      const headAt = textIndex(doc, head);
      const anchorAt = anchor === head ? headAt : textIndex(doc, anchor);
      call(commands.setCursor(url, anchorAt, headAt)).catch(() => {});
    }
    return () => {
      view.current = null;
      editor.destroy();
    };
  }, [handle, readOnly]);

  // "Saving…" while this window holds edits the node has not confirmed. Before the first paint with the
  // editor: the node's own state alone would say "Saved to relay" for a frame.
  useLayoutEffect(() => {
    const repo = repoOf.current;
    if (!handle || !repo) return;
    const look = () => setSaving(!inStep(repo, handle as DocHandle<unknown>));
    look();
    return watchStep(handle as DocHandle<unknown>, look);
  }, [handle]);

  // Teammates' carets, redrawn when they move (and mapped through edits meanwhile).
  useEffect(() => {
    const v = view.current;
    if (!v || !handle) return;
    const carets = peers.flatMap((p) => (p.cursor ? [{ key: p.peerId, name: p.name, color: p.color, anchor: p.cursor.anchor, head: p.cursor.head }] : []));
    // Their indices are the document's: drawn once the keys on screen are in it too (`frames.ts`).
    let gone = false;
    const draw = () => {
      if (gone || view.current !== v) return;
      if (typingWaits()) return void afterPaint().then(draw);
      v.dispatch(setCarets(v.state, currentDoc(handle), carets));
    };
    draw();
    return () => {
      gone = true;
    };
  }, [peers, handle, view.current]);

  // A version from history, drawn read-only.
  useEffect(() => {
    if (!past || !pastMount.current) return;
    const shown = new EditorView(pastMount.current, {
      state: EditorState.create({ schema, doc: past.doc }),
      editable: () => false,
      nodeViews: { check_item: checkItemView(true) },
      attributes: { class: "rich", "data-testid": "past-editor" },
    });
    return () => shown.destroy();
  }, [past]);

  function run(command: Command) {
    const v = view.current;
    if (!v || readOnly) return;
    command(v.state, v.dispatch);
    v.focus();
  }

  async function showHistory() {
    // The last keys drawn go to the node now, not a frame later (they may still be on their way when it answers).
    commitTyping();
    try {
      const [read, members] = await Promise.all([call(commands.documentHistory(url)), call(commands.members(props.team)).catch(() => null)]);
      setNames(members && new Map(members.map((m) => [m.user_id, m.display_name])));
      setHistory(versions(read));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  function viewVersion(version: Version) {
    if (!handle) return;
    try {
      const then = A.view(handle.doc(), [version.hash]);
      setPast({ version, doc: pmDocFromSpans(adapter, A.spans(then, TEXT_PATH)) });
    } catch (e) {
      setError(messageOf(e));
    }
  }

  /** What Copy and Export take: the version on screen (a past one while it is shown), not the hidden one. */
  const shownDoc = () => past?.doc ?? view.current?.state.doc;

  async function copyMarkdown() {
    const doc = shownDoc();
    if (!doc) return;
    setSent(null);
    try {
      await navigator.clipboard.writeText(toMarkdown(doc));
      setSent({ to: "clipboard", past: !!past });
    } catch (e) {
      setError(`Could not copy: ${messageOf(e)}`);
    }
  }

  async function exportAs(format: ExportFormat) {
    const doc = shownDoc();
    if (!doc) return;
    setSent(null);
    try {
      const path = await call(commands.exportDocument(props.title, format, exportText(doc, props.title, format)));
      if (path) setSent({ to: "file", path });
    } catch (e) {
      setError(`Could not export: ${messageOf(e)}`);
    }
  }

  const state = view.current?.state;
  // Nothing edits while a past version is shown: the live document is hidden then.
  const editable = !readOnly && !!state && !past;
  const on = (active: boolean | undefined) => ({ "aria-pressed": !!active, disabled: !editable });
  const { marks, nodes } = schema;
  return (
    <section className="editor">
      <header>
        <button className="link" onClick={props.onClose} data-testid="close-document">
          ← Documents
        </button>
        <h2>{props.title}</h2>
        <DocState url={url} saving={saving} />
        <ul className="peers" data-testid="peers">
          {peers.map((p) => (
            <li key={p.peerId} style={{ background: p.color }} title={p.name}>
              {p.name}
            </li>
          ))}
        </ul>
      </header>
      <div className="toolbar" role="toolbar" aria-label="Formatting">
        <button {...on(state && active.strong(state))} onClick={() => run(toggleMark(marks.strong))} title="Bold (Ctrl+B)" aria-label="Bold" data-testid="format-bold">
          <b>B</b>
        </button>
        <button {...on(state && active.em(state))} onClick={() => run(toggleMark(marks.em))} title="Italic (Ctrl+I)" aria-label="Italic" data-testid="format-italic">
          <i>I</i>
        </button>
        <button {...on(state && active.underline(state))} onClick={() => run(toggleMark(marks.underline))} title="Underline (Ctrl+U)" aria-label="Underline">
          <u>U</u>
        </button>
        <button {...on(state && active.strike(state))} onClick={() => run(toggleMark(marks.strike))} title="Strikethrough (Ctrl+Shift+S)" aria-label="Strikethrough">
          <s>S</s>
        </button>
        <button {...on(state && active.code(state))} onClick={() => run(toggleMark(marks.code))} title="Inline code (Ctrl+E)" aria-label="Inline code">
          <code>{"</>"}</code>
        </button>
        <button {...on(state && active.link(state))} onClick={() => setLinking("")} title="Link" aria-label="Link" data-testid="format-link">
          Link
        </button>
        <span className="divider" />
        {([1, 2, 3] as const).map((level) => (
          <button key={level} {...on(state && active[`heading${level}` as const](state))} onClick={() => run(toggleBlock(nodes.heading, { level }))} title={`Heading ${level} (Ctrl+Alt+${level})`} aria-label={`H${level} heading`}>
            H{level}
          </button>
        ))}
        <button {...on(state && active.bulletList(state))} onClick={() => run(toggleList(nodes.bullet_list))} title="Bulleted list (Ctrl+Shift+8)" aria-label="Bulleted list">
          •
        </button>
        <button {...on(state && active.orderedList(state))} onClick={() => run(toggleList(nodes.ordered_list))} title="Numbered list (Ctrl+Shift+7)" aria-label="1. Numbered list">
          1.
        </button>
        <button {...on(state && active.checkList(state))} onClick={() => run(toggleList(nodes.check_list))} title="Check list (Ctrl+Shift+9)" aria-label="Check list">
          ☑
        </button>
        <button {...on(state && active.quote(state))} onClick={() => run(toggleQuote)} title="Quote" aria-label="Quote">
          ❝
        </button>
        <button {...on(state && active.codeBlock(state))} onClick={() => run(toggleBlock(nodes.code_block))} title="Code block" aria-label="Code block">
          {"{ }"}
        </button>
        <button {...on(false)} onClick={() => run(insertRule)} title="Horizontal rule" aria-label="Horizontal rule">
          ―
        </button>
        <span className="divider" />
        <button disabled={!editable} onClick={() => run(undo)} title="Undo (Ctrl+Z)" aria-label="Undo">
          ↶
        </button>
        <button disabled={!editable} onClick={() => run(redo)} title="Redo (Ctrl+Shift+Z)" aria-label="Redo">
          ↷
        </button>
        <span className="spacer" />
        <button onClick={() => void copyMarkdown()} disabled={!state} title="Copy the document as Markdown" data-testid="copy-markdown">
          Copy as Markdown
        </button>
        <button onClick={() => void exportAs("markdown")} disabled={!state} title="Save the document as a Markdown file" data-testid="export-markdown">
          Export Markdown
        </button>
        <button onClick={() => void exportAs("html")} disabled={!state} title="Save the document as a web page" data-testid="export-html">
          Export HTML
        </button>
        <button onClick={() => (history ? setHistory(null) : void showHistory())} data-testid="history">
          History
        </button>
      </div>
      {linking !== null && (
        <form
          className="inline link-form"
          onSubmit={(e) => {
            e.preventDefault();
            run(setLink(linking));
            setLinking(null);
          }}
        >
          <input autoFocus value={linking} onChange={(e) => setLinking(e.target.value)} placeholder="https://… (empty removes the link)" aria-label="Link address" data-testid="link-address" />
          <button type="submit">Apply</button>
          <button type="button" onClick={() => setLinking(null)}>
            Cancel
          </button>
        </form>
      )}
      <ErrorLine error={error} />
      {sent?.to === "clipboard" && (
        <p className="marker" role="status" data-testid="copied">
          Copied as Markdown{sent.past ? " (the version shown)" : ""}.
        </p>
      )}
      {sent?.to === "file" && (
        <p className="marker" role="status" data-testid="export-saved">
          Saved to {sent.path}
        </p>
      )}
      {!past && !handle && (
        // Not editable until the document is here: keystrokes would have nowhere to go.
        <p className="marker" role="status" data-testid="opening">
          {previewing ? "Loading the document for editing…" : "Opening…"}
        </p>
      )}
      <div className="editor-body">
        {past ? (
          <div className="past" data-testid="past-version">
            <p className="marker">
              Viewing the version of {dateTime(past.version.to)}.{" "}
              <button className="link" onClick={() => setPast(null)}>
                Back to the live document
              </button>
            </p>
            <div ref={pastMount} className="surface" />
          </div>
        ) : null}
        <div ref={previewMount} className="surface" hidden={!!past || !!handle || !previewing} />
        <div ref={mount} className="surface" hidden={!!past || !handle} />
        {history && (
          <ol className="history" data-testid="history-list">
            {history.map((v) => (
              <li key={v.hash}>
                <button className="link" onClick={() => viewVersion(v)}>
                  {dateTime(v.to)}
                </button>
                <span className="marker">
                  {" "}
                  {v.changes} change{v.changes === 1 ? "" : "s"} · {whose(v, names, props.me)}
                </span>
              </li>
            ))}
          </ol>
        )}
      </div>
    </section>
  );
}

/// A check-list item with its checkbox; ticking it changes the item's `checked` attribute (a change of the
/// document like any other).
function checkItemView(readOnly: boolean): NodeViewConstructor {
  return (node, view, getPos) => {
    const item = document.createElement("li");
    item.className = "check-item";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.contentEditable = "false";
    box.disabled = readOnly;
    const content = document.createElement("div");
    item.append(box, content);
    const show = (n: Node) => {
      box.checked = n.attrs.checked === true;
      item.dataset.checked = String(box.checked);
    };
    show(node);
    box.addEventListener("mousedown", (e) => {
      e.preventDefault();
      const pos = getPos();
      if (pos === undefined || readOnly) return;
      view.dispatch(view.state.tr.setNodeMarkup(pos, undefined, { ...node.attrs, checked: !node.attrs.checked }));
    });
    // The document decides the box's state: the browser's own toggle on click would undo what `mousedown`
    // just drew from it.
    box.addEventListener("click", (e) => e.preventDefault());
    return {
      dom: item,
      contentDOM: content,
      update(next) {
        if (next.type !== node.type) return false;
        node = next;
        show(next);
        return true;
      },
      ignoreMutation: (m) => m.target === box,
    };
  };
}
