import type { MiddlewareHandler } from "hono";
import { type DbBindings, type DbHandle, openDb } from "../db/client.ts";
import type { AppEnv } from "../env.ts";
import { ProblemError } from "../lib/problem.ts";

/**
 * Opens the request's database handle (`c.var.db`) and closes it once the response is sent.
 * Connections are made lazily, so routes that never query (docs) cost nothing.
 *
 * @example app.use("/v1/*", database())
 */
export const database = ({ open = openDb }: { open?: (env: DbBindings) => DbHandle } = {}): MiddlewareHandler<AppEnv> =>
  async function database(c, next) {
    if (!c.env.DATABASE_URL) {
      throw new ProblemError("service-unavailable", "The database is not configured (DATABASE_URL is unset).");
    }
    const { db, close } = open(c.env);
    c.set("db", db);
    try {
      await next();
    } finally {
      const closing = close().catch((err: unknown) => console.error("closing the database pool failed", err));
      const ctx = executionContextOf(c);
      if (ctx) ctx.waitUntil(closing);
      else await closing;
    }
  };

function executionContextOf(c: { executionCtx: ExecutionContext }): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    // app.request() in unit tests has no execution context.
    return undefined;
  }
}
