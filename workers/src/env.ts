// Bindings of the edge Worker (wrangler.toml, .dev.vars, `wrangler secret put`) and the per-request context
// every route sees. Durable Object namespaces will be added here by the call-control issue.
import type { Db } from "./db/types.ts";
import type { AccountId } from "./lib/ids.ts";

export type Env = {
  /** postgres:// URL. Production: the Neon pooled URL (a secret). Locally: set by `npm start` / the test runner. */
  DATABASE_URL: string;
  /** Local only: `host:port` of the loopback WebSocket→TCP database proxy. */
  DB_WS_PROXY?: string;
};

/** Who is calling, set by the `authorize()` middleware on every authenticated route. */
export type AuthContext = {
  tenantId: AccountId;
  keyId: string;
  scopes: readonly string[];
};

export type AppEnv = {
  Bindings: Env;
  Variables: {
    /** The request's database handle; inside a write route it is the request's transaction. */
    db: Db;
    auth: AuthContext;
    requestId: string;
  };
};
