// Reactions as the chat shows them: this person's emoji put on or taken off at once (the relay's copy
// replaces it when it arrives), who reacted named in a chip's tooltip, and the emoji offered to pick from.
import type { Member, Reaction, UserId } from "../../bindings";

/** The emoji the picker offers: what teams use most to answer without a message. */
export const QUICK_REACTIONS = ["👍", "❤️", "😄", "🎉", "👀", "🙏", "✅", "🚀"] as const;

/** `reactions` with `me`'s `emoji` put on (`on`) or taken off, as the relay would answer. */
export function toggled(reactions: Reaction[], emoji: string, on: boolean, me: UserId): Reaction[] {
  const at = reactions.findIndex((r) => r.emoji === emoji);
  if (on) {
    if (at === -1) return [...reactions, { emoji, user_ids: [me] }];
    if (reactions[at].user_ids.includes(me)) return reactions;
    return reactions.map((r, i) => (i === at ? { ...r, user_ids: [...r.user_ids, me] } : r));
  }
  if (at === -1 || !reactions[at].user_ids.includes(me)) return reactions;
  const left = reactions[at].user_ids.filter((u) => u !== me);
  return left.length === 0 ? reactions.filter((_, i) => i !== at) : reactions.map((r, i) => (i === at ? { ...r, user_ids: left } : r));
}

/** Who put `reaction` on, by name ("You" first when it is this person), for the chip's tooltip. */
export function whoReacted(reaction: Reaction, members: Member[], me: UserId): string {
  const names = reaction.user_ids.map((id) => (id === me ? "You" : (members.find((m) => m.user_id === id)?.display_name ?? "Someone who left")));
  const ordered = [...names.filter((n) => n === "You"), ...names.filter((n) => n !== "You")];
  const list = ordered.length <= 2 ? ordered.join(" and ") : `${ordered.slice(0, -1).join(", ")} and ${ordered[ordered.length - 1]}`;
  return `${list} reacted with ${reaction.emoji}`;
}
