// A message's text as drawn: its light formatting (`format.ts`), its mentions as names (a mention of the
// reader stands out) and its web links as links, which open in the system browser (`onOpenLink`), never in
// this window. Everything is React text: no markup from a message reaches the page as HTML.
import { type ReactNode, useEffect, useMemo, useState } from "react";
import type { UserId } from "../../bindings";
import type { Block, Inline } from "./format";
import { segments } from "./mentions";

/** A message's content as blocks to draw. */
export type Formatter = (content: string) => Block[];

/** The text as written, mentions as names: what shows should the formatter not load. */
const asWritten: Formatter = (content) => [
  { kind: "paragraph", children: segments(content).map((s) => ("text" in s ? { kind: "text", text: s.text } : { kind: "mention", mention: s.mention })) },
];

/** markdown-it is a third of the app's first chunk: it is loaded with the first chat, not at start. */
let loadedFormatter: Formatter | null = null;
let loading: Promise<Formatter> | null = null;

/** Loads the formatter (once). A chunk of the app's own bundle that does not load leaves messages as written. */
export function loadFormat(): Promise<Formatter> {
  loading ??= import("./format").then(
    (module) => (loadedFormatter = module.formatted),
    () => (loadedFormatter = asWritten),
  );
  return loading;
}

/** The formatter, `null` until it has loaded (the chat waits for it, so nothing shifts under the reader). */
export function useFormat(): Formatter | null {
  // A function in state: set through initialisers, not as one.
  const [formatter, setFormatter] = useState<Formatter | null>(() => loadedFormatter);
  useEffect(() => {
    if (formatter) return;
    let live = true;
    void loadFormat().then((loaded) => live && setFormatter(() => loaded));
    return () => {
      live = false;
    };
  }, [formatter]);
  return formatter;
}

export function MessageText({
  content,
  me,
  onOpenLink,
  trailing,
}: {
  content: string;
  me: UserId;
  onOpenLink: (url: string) => void;
  /** Drawn at the end of the last paragraph ("(edited)"), or after the text when it ends in code. */
  trailing?: ReactNode;
}) {
  const formatter = useFormat() ?? asWritten;
  // Read once per content, not on every render of the chat (each key typed in the composer is one).
  const blocks = useMemo(() => formatter(content), [formatter, content]);
  const last = blocks.length - 1;
  return (
    <div className="text">
      {blocks.map((block, i) => (
        <BlockView key={i} block={block} me={me} onOpenLink={onOpenLink} trailing={i === last && block.kind === "paragraph" ? trailing : undefined} />
      ))}
      {(last < 0 || blocks[last].kind === "code") && trailing}
    </div>
  );
}

function BlockView({ block, me, onOpenLink, trailing }: { block: Block; me: UserId; onOpenLink: (url: string) => void; trailing?: ReactNode }) {
  if (block.kind === "code") {
    return (
      <pre>
        <code>{block.text}</code>
      </pre>
    );
  }
  return (
    <p>
      {inlines(block.children, me, onOpenLink)}
      {trailing}
    </p>
  );
}

function inlines(items: Inline[], me: UserId, onOpenLink: (url: string) => void): ReactNode[] {
  return items.map((item, i) => {
    switch (item.kind) {
      case "text":
        return <span key={i}>{item.text}</span>;
      case "mention": {
        const mine = item.mention.userId === me;
        return (
          <span key={i} className={mine ? "mention mention-me" : "mention"} data-testid={mine ? "mention-me" : "mention"} data-user={item.mention.userId}>
            @{item.mention.name}
          </span>
        );
      }
      case "code":
        return <code key={i}>{item.text}</code>;
      case "break":
        return <br key={i} />;
      case "strong":
        return <strong key={i}>{inlines(item.children, me, onOpenLink)}</strong>;
      case "em":
        return <em key={i}>{inlines(item.children, me, onOpenLink)}</em>;
      case "s":
        return <s key={i}>{inlines(item.children, me, onOpenLink)}</s>;
      case "link":
        return (
          <a
            key={i}
            href={item.url}
            rel="noreferrer noopener"
            data-testid="message-link"
            // Dropped on the window it would be opened there.
            draggable={false}
            onClick={(event) => {
              event.preventDefault();
              onOpenLink(item.url);
            }}
            // A middle click would ask the webview for a window of its own.
            onAuxClick={(event) => event.preventDefault()}
          >
            {inlines(item.children, me, onOpenLink)}
          </a>
        );
    }
  });
}
