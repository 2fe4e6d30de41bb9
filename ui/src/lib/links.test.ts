import { describe, expect, it } from "vitest";
import { webLink } from "./links";

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
