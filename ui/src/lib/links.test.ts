import { describe, expect, it } from "vitest";
import { linkParts, webLink } from "./links";

describe("webLink", () => {
  it("keeps absolute http and https links", () => {
    expect(webLink("https://github.com/octo-org/teamflow/pull/12")).toBe("https://github.com/octo-org/teamflow/pull/12");
    expect(webLink("http://trello.com/c/abc")).toBe("http://trello.com/c/abc");
    expect(webLink("HTTPS://example.com/x")).toBe("HTTPS://example.com/x");
  });
  it("refuses every other scheme, relative links and nothing", () => {
    for (const bad of [
      "javascript:alert(1)",
      " javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "file:///etc/passwd",
      "data:text/html,<script>alert(1)</script>",
      "tauri://localhost/index.html",
      "//evil.example.com",
      "/api/me",
      "https:evil.example.com",
      "",
      null,
      undefined,
    ]) {
      expect(webLink(bad)).toBeNull();
    }
  });
  it("refuses links with whitespace or control characters, and overlong ones", () => {
    expect(webLink("https://a.test/x y")).toBeNull();
    expect(webLink("https://a.test/\u0000x")).toBeNull();
    expect(webLink("https://a.test/\nx")).toBeNull();
    expect(webLink(`https://a.test/${"x".repeat(2048)}`)).toBeNull();
  });
});

describe("linkParts", () => {
  it("cuts links out of words, leaving trailing punctuation as text", () => {
    expect(linkParts("see https://example.com/pr/12, and docs.example.org.")).toEqual([
      { text: "see " },
      { text: "https://example.com/pr/12", url: "https://example.com/pr/12" },
      { text: ", and " },
      { text: "docs.example.org", url: "http://docs.example.org" },
      { text: "." },
    ]);
  });

  it("keeps a link's own parentheses and a whole text that is one link", () => {
    expect(linkParts("(https://en.example.org/wiki/Thing_(idea))")).toEqual([
      { text: "(" },
      { text: "https://en.example.org/wiki/Thing_(idea)", url: "https://en.example.org/wiki/Thing_(idea)" },
      { text: ")" },
    ]);
    expect(linkParts("HTTPS://EXAMPLE.COM")).toEqual([{ text: "HTTPS://EXAMPLE.COM", url: "HTTPS://EXAMPLE.COM" }]);
  });

  it("leaves everything but web links as text", () => {
    for (const text of ["mail ada@example.com", "mailto:ada@example.com", "ftp://files.example.org/x", "//example.com/x", "javascript:alert(1)", "file:///etc/passwd", "no links here", ""]) {
      expect(linkParts(text).every((part) => !("url" in part)), text).toBe(true);
      expect(linkParts(text).map((part) => part.text).join(""), text).toBe(text);
    }
  });
});
