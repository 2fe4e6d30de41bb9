// The relay's bounds for a password, checked in the window before anything is sent (the relay checks too).

/** Why `password` would be refused as a new password, or null. Counts characters, as the relay does. */
export function passwordProblem(password: string): string | null {
  const chars = [...password].length;
  if (chars < 8) return "The new password needs at least 8 characters.";
  if (chars > 128) return "The new password can have at most 128 characters.";
  return null;
}
