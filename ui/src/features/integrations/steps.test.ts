// Which webhook URLs a provider on the internet could not reach, and what a refusal tells the admin.
import { expect, it } from "vitest";
import { refusalAdvice, unreachableFromOutside } from "./steps";

it("finds the addresses only the relay's machine can reach", () => {
  for (const url of [
    "http://0.0.0.0:8443/x",
    "http://127.0.0.1:1/x",
    "https://localhost/x",
    "http://[::1]:80/x",
    "http://[::]:8443/x",
    "http://relay.localhost/x",
    "http://10.0.0.5:8443/x",
    "http://172.20.1.1/x",
    "http://192.168.1.20/x",
    "http://169.254.1.1/x",
    "http://[fd12::1]/x",
    "not a url",
  ]) {
    expect(unreachableFromOutside(url), url).toBe(true);
  }
  for (const url of ["https://relay.example.com/api/webhooks/github/x", "http://172.32.0.1/x", "http://203.0.113.9/x", "https://[2001:db8::1]/x"]) {
    expect(unreachableFromOutside(url), url).toBe(false);
  }
});

it("advises on a wrong secret and passes an unreadable body's detail on", () => {
  expect(refusalAdvice("trello", "invalid_signature: the webhook signature did not verify")).toMatch(/^Trello is sending, but its signature does not match/);
  expect(refusalAdvice("github", "validation_failed: the webhook body is not JSON: x: y")).toBe("GitHub is sending something the relay cannot read: the webhook body is not JSON: x: y.");
});
