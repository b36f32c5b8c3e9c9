// The edge Worker running locally in workerd (wrangler's unstable_dev) against a fresh, migrated database reached
// through the loopback WebSocket proxy, with throwaway secrets: what the end-to-end test and bench/edge.ts start.
// Node-only.
import { unstable_dev } from "wrangler";
import { generateCallTokenKeyPair } from "../shared/call-token.ts";
import {
  createScratchDatabase,
  hostPortOf,
  type NodeDb,
  openNodeDb,
  servePglite,
  startDbProxy,
} from "../workers/src/db/node.ts";

export interface LocalEdge {
  /** http://127.0.0.1:PORT */
  url: string;
  twilioAuthToken: string;
  /** kid → base64url public key, for media nodes (CALL_TOKEN_PUBLIC_KEYS). */
  callTokenPublicKeys: Record<string, string>;
  /** node id → secret, as the edge holds them (MEDIA_NODE_SECRETS). */
  nodeSecrets: Record<string, string>;
  backend: "postgres" | "pglite";
  /** A Node connection to the same database, for assertions. */
  db: NodeDb;
  stop(): Promise<void>;
}

export interface LocalEdgeOptions {
  /** Default: postgres when a server answers at DATABASE_URL (or the local test server), else pglite. */
  backend?: "postgres" | "pglite";
  /** Extra Worker vars (override the defaults set here). */
  vars?: Record<string, string>;
  nodeIds?: string[];
  logLevel?: "none" | "error" | "warn" | "info" | "log" | "debug";
}

const DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/test";

async function startDatabase(backend: LocalEdgeOptions["backend"]) {
  if (backend !== "pglite") {
    try {
      const scratch = await createScratchDatabase(process.env.DATABASE_URL ?? DEFAULT_SERVER);
      const db = await openNodeDb({ url: scratch.url });
      await db.migrate();
      return {
        backend: "postgres" as const,
        url: scratch.url,
        db,
        stop: async () => {
          await db.close();
          await scratch.drop();
        },
      };
    } catch (error) {
      if (backend === "postgres") throw error;
    }
  }
  const db = await openNodeDb({ url: "", pgliteDir: "memory://" });
  await db.migrate();
  if (!db.pglite) throw new Error("expected a PGlite handle");
  const served = await servePglite(db.pglite);
  return {
    backend: "pglite" as const,
    url: served.url,
    db,
    stop: async () => {
      await served.stop();
      await db.close();
    },
  };
}

export async function startLocalEdge(options: LocalEdgeOptions = {}): Promise<LocalEdge> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_SEND_METRICS = "false";
  const database = await startDatabase(options.backend);
  const proxy = await startDbProxy({ port: 0, allow: [hostPortOf(database.url)] });
  const keys = await generateCallTokenKeyPair();
  const twilioAuthToken = `local-${crypto.randomUUID()}`;
  const nodeSecrets = Object.fromEntries(
    (options.nodeIds ?? ["node-local-1"]).map((id) => [id, `secret-${crypto.randomUUID()}`]),
  );
  try {
    const worker = await unstable_dev("workers/src/index.ts", {
      config: "wrangler.toml",
      ip: "127.0.0.1",
      port: 0,
      local: true,
      persist: false,
      logLevel: options.logLevel ?? "error",
      vars: {
        DATABASE_URL: database.url,
        DB_WS_PROXY: proxy.address,
        TWILIO_AUTH_TOKEN: twilioAuthToken,
        TWILIO_ACCOUNT_SID: `AC${"0".repeat(32)}`,
        CALL_TOKEN_PRIVATE_KEY: keys.privateKey,
        CALL_TOKEN_KID: keys.kid,
        MEDIA_NODE_SECRETS: JSON.stringify(nodeSecrets),
        // A throwaway key-encryption key for tenants' secrets (workers/src/secrets/).
        SECRETS_KEK: "secret:local",
        SECRETS_KEKS: JSON.stringify({
          local: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
        }),
        ...options.vars,
      },
      experimental: { disableExperimentalWarning: true, disableDevRegistry: true, testMode: true },
    });
    const url = `http://127.0.0.1:${worker.port}`;
    return {
      url,
      twilioAuthToken,
      callTokenPublicKeys: { [keys.kid]: keys.publicKey },
      nodeSecrets,
      backend: database.backend,
      db: database.db,
      async stop() {
        await worker.stop();
        await proxy.stop();
        await database.stop();
      },
    };
  } catch (error) {
    await proxy.stop();
    await database.stop();
    throw error;
  }
}
