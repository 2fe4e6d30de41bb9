// Invitation links read as people paste them: the relay and token, or nothing for anything else.
import { expect, it } from "vitest";
import { parseInvitationLink } from "./invitation";

const TOKEN = "Zm9vYmFyYmF6cXV4LXRva2VuX3Rlc3QtMTIzNDU2Nzg5";

it("takes the relay and the token from a link, as pasted", () => {
  expect(parseInvitationLink(`https://relay.example.com/invite/${TOKEN}`)).toEqual({ relayUrl: "https://relay.example.com", token: TOKEN });
  expect(parseInvitationLink(`  http://127.0.0.1:8080/invite/${TOKEN}/\n`)).toEqual({ relayUrl: "http://127.0.0.1:8080", token: TOKEN });
  // A relay behind a proxy under a path keeps its path.
  expect(parseInvitationLink(`https://example.com/teamflow/invite/${TOKEN}`)).toEqual({ relayUrl: "https://example.com/teamflow", token: TOKEN });
});

it("takes a bare token without a relay", () => {
  expect(parseInvitationLink(TOKEN)).toEqual({ relayUrl: null, token: TOKEN });
});

it("refuses what is not an invitation", () => {
  for (const input of [
    "",
    "   ",
    "hello",
    "https://relay.example.com/",
    "https://relay.example.com/invite/",
    "https://relay.example.com/invite/short",
    `https://relay.example.com/invite/${TOKEN}?x=1`,
    `https://relay.example.com/invite/${TOKEN}/more`,
    `https://relay.example.com/invite/has space${TOKEN}`,
    `ftp://relay.example.com/invite/${TOKEN}`,
    `javascript:alert(1)//invite/${TOKEN}`,
  ]) {
    expect(parseInvitationLink(input), input).toBeNull();
  }
});
