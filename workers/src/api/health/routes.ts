// Liveness and readiness of the edge, for whoever watches it (a monitor, a deploy gate, an operator's curl).
// Not tenant API, so not in the OpenAPI document. Readiness answers within READY_DEADLINE_MS whatever state the
// databases are in: a check that hangs is a failed check.
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { openDb } from "../../db/client.ts";
import { withDeadline } from "../../db/unavailable.ts";
import type { AppEnv } from "../../env.ts";
import { DATABASE_RETRY_AFTER_S } from "../../lib/errors.ts";
import { PROBLEM_BASE } from "../../lib/problem.ts";
import { allDatabases } from "../../residency/residency.ts";

/** Longest a readiness check waits for one database. */
export const READY_DEADLINE_MS = 2_500;

type DatabaseCheck = { jurisdictions: string[]; ok: boolean; latencyMs: number; error?: string };

async function checkDatabase(env: AppEnv["Bindings"], url: string, jurisdictions: string[]): Promise<DatabaseCheck> {
  const started = Date.now();
  const { db, close } = openDb(
    { DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY },
    { max: 1, connectTimeoutMs: READY_DEADLINE_MS, queryTimeoutMs: READY_DEADLINE_MS },
  );
  try {
    await withDeadline(db.execute(sql`select 1`), READY_DEADLINE_MS, "the readiness query");
    return { jurisdictions, ok: true, latencyMs: Date.now() - started };
  } catch (error) {
    // The reason, never the URL (it carries credentials).
    const reason = error instanceof Error ? error.message.split("\n")[0]?.slice(0, 200) : String(error);
    return { jurisdictions, ok: false, latencyMs: Date.now() - started, error: reason ?? "unknown" };
  } finally {
    void close().catch(() => undefined);
  }
}

export const healthRoutes = new Hono<AppEnv>();

/** The Worker runs and routes requests; depends on nothing. */
healthRoutes.get("/health/live", (c) => c.json({ status: "live" }));

/**
 * Ready when every jurisdiction's database answers `select 1` in time. Otherwise 503 problem+json with Retry-After
 * and the check of each database: the API then answers 503 too, while calls to published numbers are still
 * answered from the route cache and their records wait in each call's outbox.
 */
healthRoutes.get("/health/ready", async (c) => {
  const databases = await Promise.all(
    allDatabases(c.env).map(({ url, jurisdictions }) => checkDatabase(c.env, url, jurisdictions)),
  );
  if (databases.every((d) => d.ok)) return c.json({ status: "ready", databases });
  const down = databases.filter((d) => !d.ok).flatMap((d) => d.jurisdictions);
  return new Response(
    JSON.stringify({
      type: `${PROBLEM_BASE}service-unavailable`,
      title: "Service temporarily unavailable",
      status: 503,
      detail: `The database of ${down.join(", ")} cannot be reached. The API answers 503 until it is back; calls to published numbers are still answered.`,
      instance: c.req.path,
      databases,
    }),
    {
      status: 503,
      headers: { "content-type": "application/problem+json", "retry-after": String(DATABASE_RETRY_AFTER_S) },
    },
  );
});
