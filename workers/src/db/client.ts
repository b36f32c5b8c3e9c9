// Postgres from inside the Worker: the Neon serverless driver over WebSocket (the only transport workerd gives us
// that speaks the Postgres protocol and supports interactive transactions). In production it talks to Neon's own
// WebSocket endpoint. Locally and in tests `DB_WS_PROXY` names the loopback proxy (workers/src/db/node.ts) that
// pipes the WebSocket to a real Postgres or to PGlite served over TCP.
//
// Worker-safe: never import pg, PGlite or node:net here (the bundle check in scripts/test.mjs would catch it).
import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import * as schema from "./schema.ts";
import type { Db } from "./types.ts";

export type DbBindings = {
  DATABASE_URL: string;
  /** `host:port` of a plain-WebSocket Postgres proxy (local only). Unset in production. */
  DB_WS_PROXY?: string | undefined;
};

/**
 * Deadlines of every connection and query the edge makes. A database that is down fails at once; one that is hung
 * (accepts the connection, never answers) would otherwise hold a request until the platform's own limit, so the
 * connection must be up within CONNECT_TIMEOUT_MS and a query answered within QUERY_TIMEOUT_MS. Together they keep
 * an API request against an unreachable database under 5 s (it is then a 503, lib/errors.ts).
 */
export const CONNECT_TIMEOUT_MS = 3_000;
export const QUERY_TIMEOUT_MS = 4_000;

export type DbHandle = {
  db: Db;
  /** Closes the request's connections; pass to `ctx.waitUntil`. WebSockets cannot outlive the request. */
  close: () => Promise<void>;
};

function configureNeon(proxy: string | undefined): void {
  if (!proxy) return;
  // neonConfig is module-global, but every request of one Worker has the same bindings, so this is idempotent.
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  // The pipelined connect assumes cleartext-password auth; trust-auth servers and PGlite never answer it.
  neonConfig.pipelineConnect = false;
}

/**
 * Opens a per-request pool. Connections are only made on the first query, so creating it on every request
 * (even ones that never query) costs nothing.
 *
 * @example
 * const { db, close } = openDb(env);
 * try { await db.select().from(agents) } finally { ctx.waitUntil(close()) }
 */
export function openDb(
  env: DbBindings,
  {
    max = 4,
    connectTimeoutMs = CONNECT_TIMEOUT_MS,
    queryTimeoutMs = QUERY_TIMEOUT_MS,
  }: { max?: number; connectTimeoutMs?: number; queryTimeoutMs?: number } = {},
): DbHandle {
  configureNeon(env.DB_WS_PROXY);
  const pool = new Pool({
    connectionString: env.DATABASE_URL,
    max,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: queryTimeoutMs,
  });
  // An idle client that loses its connection (the database restarted) emits on the pool; without a listener that
  // is an uncaught error. The next query gets a fresh connection or its own error.
  pool.on("error", () => undefined);
  const db: Db = drizzle({ client: pool, schema });
  return { db, close: () => pool.end() };
}
