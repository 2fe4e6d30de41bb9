import { describe, expect, it } from "vitest";
import { parts, plain } from "./marks";

describe("search marks", () => {
  it("splits plain and matched text in order", () => {
    expect(parts("We \u0002deployed\u0003 the \u0002billing\u0003 service")).toEqual([
      { text: "We ", match: false },
      { text: "deployed", match: true },
      { text: " the ", match: false },
      { text: "billing", match: true },
      { text: " service", match: false },
    ]);
  });

  it("keeps markup from the index as text", () => {
    expect(parts("<b>\u0002x\u0003</b>")).toEqual([
      { text: "<b>", match: false },
      { text: "x", match: true },
      { text: "</b>", match: false },
    ]);
  });

  it("copes with empty, unclosed and stray marks", () => {
    expect(parts("")).toEqual([]);
    expect(parts("\u0002\u0003")).toEqual([]);
    expect(parts("a \u0002open")).toEqual([
      { text: "a ", match: false },
      { text: "open", match: true },
    ]);
    expect(plain("x\u0003y")).toBe("x\u0003y");
    expect(plain("\u0002Kubernetes\u0003 migration")).toBe("Kubernetes migration");
  });
});
