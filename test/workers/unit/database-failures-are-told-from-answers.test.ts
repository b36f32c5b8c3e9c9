// A database that cannot be reached is a 503 with Retry-After; a database that answered with an error is not.
import { describe, expect, it } from "vitest";
import { DatabaseUnavailableError, isDatabaseUnavailable, withDeadline } from "../../../workers/src/db/unavailable.ts";
import { toProblem } from "../../../workers/src/lib/errors.ts";

const wrapped = (cause: unknown) => Object.assign(new Error("Failed query: select 1\nparams: +14155550100"), { cause });

describe("telling an unreachable database from its answers", () => {
  it("counts refused, timed-out and terminated connections, however deeply wrapped", () => {
    for (const cause of [
      new Error("Connection terminated due to connection timeout"),
      new Error("Connection terminated unexpectedly"),
      new Error("Query read timeout"),
      Object.assign(new Error("the database system is shutting down"), { code: "57P01" }),
      Object.assign(new Error("connection failure"), { code: "08006" }),
      new DatabaseUnavailableError("took too long"),
    ]) {
      expect(isDatabaseUnavailable(wrapped(cause)), cause.message).toBe(true);
      const problem = toProblem(wrapped(cause));
      expect(problem.status).toBe(503);
      expect(Number(problem.headers["retry-after"])).toBeGreaterThan(0);
    }
  });

  it("leaves the database's own answers alone", () => {
    const unique = Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" });
    expect(isDatabaseUnavailable(wrapped(unique))).toBe(false);
    expect(toProblem(wrapped(unique)).status).toBe(409);
    const syntax = Object.assign(new Error('syntax error at or near "connect"'), { code: "42601" });
    expect(isDatabaseUnavailable(wrapped(syntax))).toBe(false);
    expect(toProblem(new Error("undefined is not a function")).status).toBe(500);
  });

  it("gives up on slow work at its deadline with an unavailable error", async () => {
    const never = new Promise<never>(() => undefined);
    const error = await withDeadline(never, 30, "the lookup").catch((e: unknown) => e);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(await withDeadline(Promise.resolve(7), 30, "the lookup")).toBe(7);
  });
});
