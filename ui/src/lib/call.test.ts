import { describe as group, expect, it } from "vitest";
import { AppFailure, call, describe, explain, isRefusal } from "./call";

group("call", () => {
  it("unwraps ok results and throws typed failures", async () => {
    await expect(call(Promise.resolve({ status: "ok" as const, data: 7 }))).resolves.toBe(7);
    const refused = { kind: "refused" as const, status: 403, code: "forbidden", message: "owners and admins only" };
    const failure = await call(Promise.resolve({ status: "error" as const, error: refused })).catch((e) => e);
    expect(failure).toBeInstanceOf(AppFailure);
    expect((failure as AppFailure).error).toEqual(refused);
    expect((failure as AppFailure).message).toBe("owners and admins only");
  });

  it("says something useful for every kind", () => {
    expect(describe({ kind: "offline", message: "connection refused" })).toMatch(/can't be reached, so this was not done/);
    expect(describe({ kind: "not_found", what: "project" })).toBe("The project was not found.");
    expect(describe({ kind: "certificate", message: "the relay's certificate is not trusted: UnknownIssuer" })).toMatch(
      /certificate is not trusted/,
    );
  });

  it("explains a refusal by its code, and leaves everything else as it reads", () => {
    const texts = { not_found: "This invitation is no longer valid." };
    const refused = (code: string) => new AppFailure({ kind: "refused", status: 404, code, message: `relay says ${code}` });
    expect(explain(refused("not_found"), texts)).toBe("This invitation is no longer valid.");
    expect(explain(refused("conflict"), texts)).toBe("relay says conflict");
    expect(explain(new AppFailure({ kind: "offline", message: "refused" }), texts)).toMatch(/can't be reached/);
    expect(explain(new AppFailure({ kind: "offline", message: "refused" }), { offline: "Needs the relay." })).toBe("Needs the relay.");
    expect(explain(new Error("boom"), texts)).toBe("boom");
    expect(isRefusal(refused("not_found"), "not_found")).toBe(true);
    expect(isRefusal(refused("conflict"), "not_found")).toBe(false);
    expect(isRefusal(new Error("not_found"), "not_found")).toBe(false);
  });
});
