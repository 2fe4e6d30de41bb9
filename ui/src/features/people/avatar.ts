// Avatars: a person's initials on a colour of their own, the same on every device (from their user id),
// from a palette where white initials keep WCAG AA contrast (at least 4.5:1) in both themes.

/** Background colours, each at least 4.5:1 against white text. */
export const AVATAR_COLORS = ["#4f46e5", "#b91c1c", "#0e7490", "#15803d", "#7e22ce", "#be185d", "#a16207", "#1d4ed8", "#c2410c", "#0f766e"];

/** Up to two letters: the first and last words' initials, or the first two letters of a single word. */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._@-]+/u).filter(Boolean);
  if (words.length === 0) return "?";
  const first = [...words[0]];
  const letters = words.length === 1 ? first.slice(0, 2) : [first[0], [...words[words.length - 1]][0]];
  return letters.join("").toLocaleUpperCase();
}

/** The user's colour: a stable hash of their id into the palette. */
export function avatarColor(userId: string): string {
  let hash = 0;
  for (const ch of userId) hash = (Math.imul(hash, 31) + ch.codePointAt(0)!) >>> 0;
  return AVATAR_COLORS[hash % AVATAR_COLORS.length];
}
