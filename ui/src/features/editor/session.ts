// One open document in the window. The text shown runs ahead of the document in Rust: keystrokes show at
// once and go out in the background, one request at a time, each made on the version the window last
// heard of. Answers and teammates' edits come back as edits relative to what was sent, so the caret
// and any keystrokes typed meanwhile are moved rather than lost.
import type { Splice, TextUpdate } from "../../bindings";
import { apply, diff, mapPosition, rebase } from "./text";

/** The two calls a session makes; the app passes the generated commands, tests a model. */
export interface DocumentApi {
  edit(base: string[], edits: Splice[]): Promise<TextUpdate>;
  since(heads: string[]): Promise<TextUpdate>;
}

export interface Selection {
  anchor: number;
  head: number;
}

export type SessionView = { text: string; selection: Selection; pending: boolean; error: string | null };

export class DocSession {
  private heads: string[];
  /** The document's text at `heads`. */
  private confirmed: string;
  /** What the window shows: `confirmed` plus keystrokes not yet acknowledged. */
  private text: string;
  private selection: Selection = { anchor: 0, head: 0 };
  private busy = false;
  /** A teammate's change arrived while a request was out. */
  private stale = false;
  private error: string | null = null;
  /** Callers of `settled` waiting for the request that is out. */
  private waiters: (() => void)[] = [];

  constructor(
    private readonly api: DocumentApi,
    opened: TextUpdate,
    private readonly onView: (view: SessionView) => void,
  ) {
    this.heads = opened.heads;
    this.confirmed = opened.text;
    this.text = opened.text;
  }

  view(): SessionView {
    return { text: this.text, selection: this.selection, pending: this.busy || this.text !== this.confirmed, error: this.error };
  }

  /** The person changed the text (and caret). Shown at once; sent when the line is free. */
  input(text: string, selection: Selection): void {
    this.text = text;
    this.selection = selection;
    void this.pump();
  }

  select(selection: Selection): void {
    this.selection = selection;
  }

  /** Someone else changed the document. */
  remoteChanged(): void {
    this.stale = true;
    void this.pump();
  }

  /** Resolves once everything typed so far is acknowledged and no request is out. */
  async settled(): Promise<void> {
    while (this.busy || this.text !== this.confirmed || this.stale) {
      if (!this.busy) await this.pump();
      else await new Promise<void>((r) => this.waiters.push(r));
      if (this.error) return;
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    const sent = this.text;
    const edit = diff(this.confirmed, sent, this.selection.head);
    if (!edit && !this.stale) return;
    this.busy = true;
    this.stale = false;
    try {
      const update = edit ? await this.api.edit(this.heads, [edit]) : await this.api.since(this.heads);
      this.error = null;
      this.settle(update, sent);
    } catch (e) {
      // Kept on screen and retried with the next keystroke or change; nothing typed is dropped.
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.busy = false;
      this.waiters.splice(0).forEach((wake) => wake());
    }
    this.onView(this.view());
    if (!this.error && (this.stale || this.text !== this.confirmed)) void this.pump();
  }

  /** `update` answers a request made when the window showed `sent`. */
  private settle(update: TextUpdate, sent: string): void {
    const typedSince = diff(sent, this.text, this.selection.head);
    this.heads = update.heads;
    this.confirmed = update.text;
    if (update.changes.length === 0) {
      // Nobody else changed anything: the window is the document plus what was typed since.
      return;
    }
    const remote = update.changes;
    const caret = (pos: number) => {
      // Positions are in the window's text; take away what was typed since `sent`, move them past the
      // teammates' edits, then put the typing back.
      let p = pos;
      if (typedSince && p >= typedSince.position + [...typedSince.insert].length) {
        p = p - [...typedSince.insert].length + typedSince.delete;
      } else if (typedSince && p > typedSince.position) {
        p = typedSince.position;
      }
      p = mapPosition(p, remote);
      if (!typedSince) return p;
      const moved = rebase(typedSince, remote);
      return p >= moved.position ? p + [...moved.insert].length - moved.delete : p;
    };
    const selection = { anchor: caret(this.selection.anchor), head: caret(this.selection.head) };
    this.text = typedSince ? apply(update.text, [rebase(typedSince, remote)]) : update.text;
    this.selection = selection;
  }
}
