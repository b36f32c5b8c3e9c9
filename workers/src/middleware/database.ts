import type { Context, MiddlewareHandler } from "hono";
import { type DbBindings, type DbHandle, openDb } from "../db/client.ts";
import type { Jurisdiction } from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import type { AppEnv, Env, RequestDatabases } from "../env.ts";
import { ProblemError } from "../lib/problem.ts";
import { rememberDatabaseUrl } from "../residency/databases.ts";
import { databaseUrlFor } from "../residency/residency.ts";

/**
 * Opens the request's database handles and closes them once the response is sent. `c.var.db` starts as
 * DATABASE_URL's handle; `authorize()` (or sign-up) then points it at the tenant's home database, so everything
 * a tenant reads or writes through the API lands in its jurisdiction's database. Handles are per distinct URL
 * and connect lazily, so routes that never query (docs) cost nothing, and when every jurisdiction shares one URL
 * there is exactly one handle, as before residency.
 *
 * @example app.use("/v1/*", database())
 */
export const database = ({ open = openDb }: { open?: (env: DbBindings) => DbHandle } = {}): MiddlewareHandler<AppEnv> =>
  async function database(c, next) {
    if (!c.env.DATABASE_URL) {
      throw new ProblemError("service-unavailable", "The database is not configured (DATABASE_URL is unset).");
    }
    const databases = requestDatabases(c.env, open);
    c.set("databases", databases);
    c.set("db", databases.byUrl(c.env.DATABASE_URL));
    try {
      await next();
    } finally {
      const closing = databases.close().catch((err: unknown) => console.error("closing the database pool failed", err));
      const ctx = executionContextOf(c);
      if (ctx) ctx.waitUntil(closing);
      else await closing;
    }
  };

/** Points the rest of the request (`c.var.db`, hence the unit of work opened after it) at `jurisdiction`'s database. */
export function useHomeDatabase(c: Context<AppEnv>, jurisdiction: Jurisdiction): Db {
  const db = c.var.databases.of(jurisdiction);
  c.set("db", db);
  return db;
}

function requestDatabases(
  env: Env,
  open: (env: DbBindings) => DbHandle,
): RequestDatabases & { close(): Promise<void> } {
  const handles = new Map<string, DbHandle>();
  const byUrl = (url: string): Db => {
    let handle = handles.get(url);
    if (!handle) {
      handle = open({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY });
      rememberDatabaseUrl(handle.db, url);
      handles.set(url, handle);
    }
    return handle.db;
  };
  return {
    byUrl,
    of: (jurisdiction) => byUrl(databaseUrlFor(env, jurisdiction)),
    close: async () => {
      await Promise.all([...handles.values()].map((h) => h.close()));
    },
  };
}

function executionContextOf(c: { executionCtx: ExecutionContext }): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    // app.request() in unit tests has no execution context.
    return undefined;
  }
}
