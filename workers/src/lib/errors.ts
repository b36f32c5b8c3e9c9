// Maps anything thrown while serving a request to a problem response: our own ProblemErrors, hono's
// HTTPExceptions (malformed JSON, wrong media type), an unreachable database (503 with Retry-After) and database
// constraint violations.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { isDatabaseUnavailable } from "../db/unavailable.ts";
import type { AppEnv } from "../env.ts";
import { ProblemError, problemResponse } from "./problem.ts";

/** What a client is told to wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_S = 5;

export function toProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400) return new ProblemError("malformed-json", "The request body is not valid JSON.");
    if (err.status === 413) return new ProblemError("payload-too-large", "The request body is too large.");
    if (err.status === 415) {
      return new ProblemError("unsupported-media-type", "Send the request body as application/json.");
    }
  }
  if (isDatabaseUnavailable(err)) {
    return new ProblemError("service-unavailable", "The database cannot be reached right now. Retry shortly.", {
      headers: { "retry-after": String(DATABASE_RETRY_AFTER_S) },
    });
  }
  const code = postgresCode(err);
  if (code === "23505") return new ProblemError("conflict", "A resource with these values already exists.");
  if (code === "23503") return new ProblemError("conflict", "A referenced resource does not exist or is in use.");
  return new ProblemError("internal-error", "Something went wrong on our side. Retrying may help.");
}

export function errorResponse(err: unknown, c: Context<AppEnv>): Response {
  const problem = toProblem(err);
  // The statement and its parameters (phone numbers, prompts) stay out of the log of an outage; its cause is enough.
  if (problem.slug === "service-unavailable")
    console.warn(`${c.req.method} ${c.req.path}: ${problem.message}`, causeOf(err));
  else if (problem.status >= 500) console.error(`${c.req.method} ${c.req.path} failed:`, err);
  return problemResponse(problem, { instance: c.req.path, requestId: c.var.requestId });
}

/** Postgres SQLSTATE of an error from any of our drivers (drizzle wraps the driver's error in `cause`). */
function postgresCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message of an error chain, for logs that must not carry a failed statement's parameters. */
function causeOf(err: unknown): string {
  let e = err;
  for (let depth = 0; depth < 4 && e instanceof Error && e.cause !== undefined; depth++) e = e.cause;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
