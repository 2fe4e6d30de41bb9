// Initials and colours: stable per person and readable.
import { expect, it } from "vitest";
import { AVATAR_COLORS, avatarColor, initials } from "./avatar";

function contrastWithWhite(hex: string): number {
  const channel = (i: number) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return 1.05 / (l + 0.05);
}

it("takes the first and last initials, or two letters of one word", () => {
  expect(initials("Ada Lovelace")).toBe("AL");
  expect(initials("  grace brewster murray hopper ")).toBe("GH");
  expect(initials("bob")).toBe("BO");
  expect(initials("élodie")).toBe("ÉL");
  expect(initials("ada@example.test")).toBe("AT");
  expect(initials("")).toBe("?");
});

it("gives each user one colour, the same every time", () => {
  const id = "0192f0c8-8c6e-7c3a-b0c1-2d3e4f5a6b7c";
  expect(avatarColor(id)).toBe(avatarColor(id));
  const spread = new Set(Array.from({ length: 50 }, (_, i) => avatarColor(`user-${i}`)));
  expect(spread.size).toBeGreaterThan(5);
});

it("keeps white initials at AA contrast on every colour", () => {
  for (const color of AVATAR_COLORS) expect(contrastWithWhite(color)).toBeGreaterThanOrEqual(4.5);
});
