// Bindings of the edge Worker (wrangler.toml, .dev.vars, `wrangler secret put`) and the per-request context
// every route sees. Call control's bindings (Durable Objects, carrier and media-node secrets) are listed in
// call-control-env.ts.
import type { AnalysisEnv } from "./analysis/env.ts";
import type { CallControlEnv } from "./call-control-env.ts";
import type { Jurisdiction, UserRole } from "./db/schema.ts";
import type { Db } from "./db/types.ts";
import type { AccountId } from "./lib/ids.ts";

export type Env = CallControlEnv &
  AnalysisEnv & {
    /**
     * postgres:// URL. Production: the Neon pooled URL (a secret). Locally: set by `npm start` / the test runner.
     * The database of every jurisdiction without its own DATABASE_URL_US / DATABASE_URL_EU (call-control-env.ts).
     */
    DATABASE_URL: string;
    /** Local only: `host:port` of the loopback WebSocket→TCP database proxy. */
    DB_WS_PROXY?: string;
  };

/** Who is calling, set by the `authorize()` middleware on every authenticated route. */
export type AuthContext = {
  tenantId: AccountId;
  /** The API key, or null when a console user signed in with a session. */
  keyId: string | null;
  /** The console user and their role, or null for an API key. */
  userId: string | null;
  role: UserRole | null;
  scopes: readonly string[];
  /** The tenant's plan and home jurisdiction (its limits, its database and regions). */
  plan: string;
  jurisdiction: Jurisdiction;
};

/** The request's database handles, one per distinct URL, opened lazily and closed after the response. */
export interface RequestDatabases {
  /** The handle for one database URL. */
  byUrl(url: string): Db;
  /** The handle for a jurisdiction's database (DATABASE_URL_US / DATABASE_URL_EU, else DATABASE_URL). */
  of(jurisdiction: Jurisdiction): Db;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    /**
     * The request's database handle: the tenant's home database after `authorize()` (DATABASE_URL before it);
     * inside a write route it is the request's transaction on that database.
     */
    db: Db;
    databases: RequestDatabases;
    auth: AuthContext;
    requestId: string;
    /** Steps run after the request's transaction commits (unitOfWork's `afterCommit()`). */
    afterCommit?: (() => Promise<void>)[];
  };
};
