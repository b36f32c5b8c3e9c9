// The edge Worker running locally in workerd under Miniflare's programmatic API, against a fresh, migrated database
// reached through the loopback WebSocket proxy, with throwaway secrets: what the end-to-end tests, the bench and
// the soak start. Node-only.
//
// The Worker is bundled exactly as `wrangler deploy` bundles it (`--dry-run --outdir`), and its bindings come from
// wrangler.toml through wrangler's own reader, so what runs here is what deploys. Miniflare then runs that bundle:
// a test holds the `Miniflare` instance and reaches the Worker's Durable Objects (and any queue or bucket a later
// wrangler.toml adds) directly, which wrangler's deprecated `unstable_dev` never allowed.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { generateCallTokenKeyPair } from "../shared/call-token.ts";
import {
  createScratchDatabase,
  hostPortOf,
  type NodeDb,
  openNodeDb,
  servePglite,
  startDbProxy,
} from "../workers/src/db/node.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export type EdgeLogLevel = "none" | "error" | "warn" | "info" | "log" | "debug";

export interface LocalWorker {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The running Miniflare: `getDurableObjectNamespace("CALL_LEDGER")`, `getBindings()`, `dispatchFetch` … */
  miniflare: Miniflare;
  /** ws://127.0.0.1:PORT of workerd's own V8 inspector, when `inspectorPort` was given. */
  inspectorUrl: string | undefined;
  fetch(route: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export interface LocalWorkerOptions {
  /** wrangler.toml of the Worker (relative to the repository). Default: the edge's. */
  config?: string;
  /** Worker vars, on top of the config's [vars]. */
  vars?: Record<string, string>;
  logLevel?: EdgeLogLevel;
  /** Open workerd's V8 inspector on this port (0 is not allowed by workerd: pick a free one). */
  inspectorPort?: number;
  /** Keep Durable Object state in this directory instead of memory. */
  persistTo?: string;
  /** Listen here instead of on a free port. */
  port?: number;
}

const bundles = new Map<string, Promise<string>>();

/** The Worker bundled by `wrangler deploy --dry-run` (cached per config for this process); the entry's path. */
export function bundleWorker(config: string): Promise<string> {
  const configPath = path.resolve(REPO_ROOT, config);
  let bundle = bundles.get(configPath);
  if (!bundle) {
    bundle = buildBundle(configPath);
    bundles.set(configPath, bundle);
    bundle.catch(() => bundles.delete(configPath));
  }
  return bundle;
}

async function buildBundle(configPath: string): Promise<string> {
  const outdir = await mkdtemp(path.join(tmpdir(), "aybiza-edge-bundle-"));
  process.once("exit", () => void rm(outdir, { recursive: true, force: true }));
  const wrangler = path.join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js");
  const args = [wrangler, "deploy", "--dry-run", "--outdir", outdir, "--config", configPath];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      text += c.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`bundling ${configPath} failed (exit ${code}):\n${text}`)),
    );
  });
  // wrangler names the bundle after the entry file (index.js, limiter-worker.js …): the one .js it wrote.
  const written = (await readdir(outdir)).filter((f) => f.endsWith(".js"));
  if (written.length !== 1)
    throw new Error(`expected one bundle from wrangler in ${outdir}, got ${written}:\n${output}`);
  const entry = path.join(outdir, written[0] as string);
  return entry;
}

const MINIFLARE_LOG: Record<EdgeLogLevel, LogLevel> = {
  none: LogLevel.NONE,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  log: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

/** Any Worker of this repository (its wrangler.toml) under Miniflare on a free loopback port. */
export async function startLocalWorker(options: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const config = path.resolve(REPO_ROOT, options.config ?? "wrangler.toml");
  const entry = await bundleWorker(config);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const level = options.logLevel ?? "error";
  const miniflare = new Miniflare({
    ...workerOptions,
    name: "aybiza-edge",
    modules: true,
    scriptPath: entry,
    modulesRoot: path.dirname(entry),
    bindings: { ...workerOptions.bindings, ...options.vars },
    host: "127.0.0.1",
    port: options.port ?? 0,
    log: new Log(MINIFLARE_LOG[level]),
    // The Worker's console goes to workerd's stdout/stderr: shown from "log" up, its errors from "error" up.
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      if (level === "log" || level === "debug" || level === "info") stdout.pipe(process.stdout);
      else stdout.resume();
      if (level !== "none") stderr.pipe(process.stderr);
      else stderr.resume();
    },
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    ...(options.persistTo
      ? { durableObjectsPersist: path.join(options.persistTo, "do"), defaultPersistRoot: options.persistTo }
      : { durableObjectsPersist: false }),
    // Outbound fetches (Twilio's REST API, webhook tools) stay local: nothing here reaches the internet unasked.
    cf: false,
  });
  let url: URL;
  try {
    url = await miniflare.ready;
  } catch (error) {
    await miniflare.dispose().catch(() => {});
    throw error;
  }
  const base = url.origin;
  let stopped = false;
  return {
    url: base,
    miniflare,
    inspectorUrl: options.inspectorPort ? `ws://127.0.0.1:${options.inspectorPort}` : undefined,
    fetch: (route, init) => fetch(new URL(route, base), init),
    async stop() {
      if (stopped) return;
      stopped = true;
      await miniflare.dispose();
    },
  };
}

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
  /** Postgres connections the Worker has opened so far (counted at the loopback proxy). */
  dbConnections: () => number;
  /** The Worker's runtime: its Durable Objects and other bindings, for tests that reach past HTTP. */
  miniflare: Miniflare;
  /** ws://… of workerd's V8 inspector when `inspectorPort` was given. */
  inspectorUrl: string | undefined;
  stop(): Promise<void>;
}

export interface LocalEdgeOptions {
  /** Default: postgres when a server answers at DATABASE_URL (or the local test server), else pglite. */
  backend?: "postgres" | "pglite";
  /** Extra Worker vars (override the defaults set here). */
  vars?: Record<string, string>;
  nodeIds?: string[];
  logLevel?: EdgeLogLevel;
  /** Open workerd's V8 inspector on this port (the soak takes heap snapshots through it). */
  inspectorPort?: number;
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
  const database = await startDatabase(options.backend);
  const proxy = await startDbProxy({ port: 0, allow: [hostPortOf(database.url)] });
  const keys = await generateCallTokenKeyPair();
  const twilioAuthToken = `local-${crypto.randomUUID()}`;
  const nodeSecrets = Object.fromEntries(
    (options.nodeIds ?? ["node-local-1"]).map((id) => [id, `secret-${crypto.randomUUID()}`]),
  );
  try {
    const worker = await startLocalWorker({
      logLevel: options.logLevel ?? "error",
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
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
    });
    return {
      url: worker.url,
      twilioAuthToken,
      callTokenPublicKeys: { [keys.kid]: keys.publicKey },
      nodeSecrets,
      backend: database.backend,
      db: database.db,
      dbConnections: proxy.accepted,
      miniflare: worker.miniflare,
      inspectorUrl: worker.inspectorUrl,
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
