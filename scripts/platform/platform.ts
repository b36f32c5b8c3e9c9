// The whole platform on one machine, offline, as `npm start` runs it and tests reuse it:
//
//   database   PGlite in <data>/pglite (or the Postgres in DATABASE_URL), in this process, served on loopback TCP
//   db proxy   the loopback WebSocket→TCP bridge the Worker's Neon driver goes through
//   emulators  Deepgram and Bedrock, each a child process, unless keys select the real service
//   edge       `wrangler dev` (workerd) with the generated secrets as --vars, under orphan-guard.mjs
//   media node `npm run media-node`, registered with the edge by heartbeats, agents fetched from it
//   demo tools the demo tenant's webhook tools, in this process
//
// then the demo tenant is seeded through the tenant API. Children run in their own process groups with logs in
// <data>/logs, each supervised (supervisor.ts): a crash restarts it with backoff, a stop request (SIGTERM to it,
// exit 0) stops the platform. stop() drains the media node, then ends the rest together, within 5 s.
// Failures are PlatformErrors: one line saying what to do.
import { spawnSync } from "node:child_process";
import path from "node:path";
import {
  hostPortOf,
  type NodeDb,
  openNodeDb,
  type Served,
  servePglite,
  startDbProxy,
} from "../../workers/src/db/node.ts";
import { type DemoTools, startDemoTools } from "./demo-tools.ts";
import {
  type Child,
  freePort,
  LOOPBACK,
  PlatformError,
  portIsFree,
  REPO_ROOT,
  rel,
  type SpawnOptions,
  spawnChild,
  spawnTs,
  waitForHttp,
} from "./processes.ts";
import { PROVIDER_VARS, type ProviderPlan, providerPlan } from "./providers.ts";
import {
  LOCAL_NODE_ID,
  type LocalSecrets,
  loadOrCreateLocalSecrets,
  localKekVars,
  readDevVars,
  twilioAuthTokenFor,
} from "./secrets.ts";
import { DEMO_CALLER, type DemoTenant, demoToolSigningSecret, seedDemoTenant } from "./seed.ts";
import { type ChildEnded, type Supervised, supervise } from "./supervisor.ts";

export interface PlatformPorts {
  edge: number;
  media: number;
  deepgram: number;
  bedrock: number;
  dbProxy: number;
  pglite: number;
  tools: number;
}

/** The design's local ports, each overridable by the environment variable next to it. */
export const PORT_VARS: Record<keyof PlatformPorts, { env: string; port: number }> = {
  edge: { env: "EDGE_PORT", port: 8787 },
  media: { env: "MEDIA_PORT", port: 8080 },
  deepgram: { env: "DEEPGRAM_EMULATOR_PORT", port: 8091 },
  bedrock: { env: "BEDROCK_EMULATOR_PORT", port: 8092 },
  dbProxy: { env: "DB_PROXY_PORT", port: 55433 },
  pglite: { env: "PGLITE_PORT", port: 55432 },
  tools: { env: "DEMO_TOOLS_PORT", port: 8093 },
};

export function portsFromEnv(env: Readonly<Record<string, string | undefined>>): PlatformPorts {
  const out = {} as PlatformPorts;
  for (const [key, { env: name, port }] of Object.entries(PORT_VARS) as [
    keyof PlatformPorts,
    { env: string; port: number },
  ][]) {
    const raw = env[name]?.trim();
    const value = raw ? Number(raw) : port;
    if (!Number.isInteger(value) || value <= 0 || value > 65_535) {
      throw new PlatformError(`${name}=${raw} is not a port number (1–65535)`);
    }
    out[key] = value;
  }
  return out;
}

export interface PlatformOptions {
  /** Where the database, secrets, demo tenant and logs live. Default `.data` in the repository. */
  dataDir?: string;
  /** Default: from the environment (EDGE_PORT, …), else the design's ports. */
  ports?: PlatformPorts;
  /** Settings (keys, DATABASE_URL, …). Default: process.env over .dev.vars. */
  env?: Readonly<Record<string, string | undefined>>;
  /** PGlite directory; "memory://" for a throwaway database. Default `<dataDir>/pglite`. */
  pgliteDir?: string;
  /** Progress lines ("starting the edge…"). */
  progress?: (line: string) => void;
  /** Aborting stops whatever has started and rejects with "interrupted". */
  signal?: AbortSignal;
  /** Crashes and restarts of child processes, one line each. */
  log?: (line: string) => void;
  /** Open the edge's V8 inspector (wrangler dev --inspector-port) here: the soak takes heap snapshots through it. */
  edgeInspectorPort?: number;
  /**
   * What runs the edge: `wrangler dev` (default, what a developer knows: live reload, request logs) or the Worker
   * under Miniflare's API directly (scripts/platform/miniflare-edge.ts), without wrangler's proxy in front.
   */
  edgeRuntime?: "wrangler" | "miniflare";
}

export interface Platform {
  edgeUrl: string;
  mediaUrl: string;
  dataDir: string;
  /** The database the edge writes to. */
  databaseUrl: string;
  plan: ProviderPlan;
  tenant: DemoTenant;
  /** The auth token the edge checks Twilio signatures with. */
  twilioAuthToken: string;
  /** The caller number the demo and `npm run call` use. */
  demoCaller: string;
  deepgramEmulatorUrl: string | undefined;
  tools: DemoTools;
  /** Banner lines: what runs where. */
  lines: string[];
  /** Warnings worth one line each (a missing package, a fallback in use). */
  warnings: string[];
  /**
   * Settles when a child ends for good: it was asked to stop (a signal sent to it, exit 0), or it kept crashing.
   * A single crash only restarts it (see `log`). Either way the platform should stop.
   */
  childExited: Promise<ChildEnded>;
  /** Process ids of the children running now, for diagnostics and tests. */
  pids(): number[];
  /** The supervised children by name ("edge", "media-node", "deepgram-emulator", …). */
  children: ReadonlyMap<string, Supervised>;
  stop(): Promise<void>;
}

/** How long a stop may take: the media node drains first, then the rest end together. */
const MEDIA_STOP_GRACE_MS = 2_800;
const OTHERS_STOP_GRACE_MS = 1_500;

type Stopper = { name: string; stop: () => Promise<void> };

export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const dataDir = path.resolve(REPO_ROOT, opts.dataDir ?? ".data");
  const logDir = path.join(dataDir, "logs");
  const devVars = readDevVars(REPO_ROOT);
  const env: Record<string, string | undefined> = opts.env ? { ...opts.env } : { ...devVars, ...process.env };
  const ports = opts.ports ?? portsFromEnv(env);
  const progress = opts.progress ?? (() => {});
  const plan = providerPlan(env, { deepgram: ports.deepgram, bedrock: ports.bedrock });
  // Only the process environment picks an external database: .dev.vars' DATABASE_URL is for wrangler run by hand.
  const externalDb = opts.pgliteDir ? undefined : (opts.env ?? process.env).DATABASE_URL?.trim() || undefined;
  const warnings = checkPackages(plan);

  // Every port first, so a clash costs one line and nothing is left half started.
  const wanted: { port: number; what: string }[] = [
    { port: ports.edge, what: `edge, ${PORT_VARS.edge.env}` },
    { port: ports.media, what: `media node, ${PORT_VARS.media.env}` },
    { port: ports.dbProxy, what: `database proxy, ${PORT_VARS.dbProxy.env}` },
    { port: ports.tools, what: `demo tools, ${PORT_VARS.tools.env}` },
    ...(externalDb ? [] : [{ port: ports.pglite, what: `PGlite, ${PORT_VARS.pglite.env}` }]),
    ...(plan.deepgram.startEmulator
      ? [{ port: ports.deepgram, what: `Deepgram emulator, ${PORT_VARS.deepgram.env}` }]
      : []),
    ...(plan.bedrock.startEmulator
      ? [{ port: ports.bedrock, what: `Bedrock emulator, ${PORT_VARS.bedrock.env}` }]
      : []),
  ];
  const busy: string[] = [];
  for (const w of wanted) if (!(await portIsFree(w.port))) busy.push(`${w.port} (${w.what})`);
  if (busy.length > 0) {
    throw new PlatformError(
      `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} already in use — stop what is using ${busy.length > 1 ? "them" : "it"} (another npm start?) or set the variable to a free port`,
    );
  }

  const { secrets } = await loadOrCreateLocalSecrets(dataDir);
  const twilio = twilioAuthTokenFor(env, secrets);
  const stoppers: Stopper[] = [];
  const supervised = new Map<string, Supervised>();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // The media node first, so its last heartbeat and call reports reach a running edge; then every other child
    // at once (each gets SIGTERM, then SIGKILL), then what runs in this process, in reverse order of start.
    const media = supervised.get("media-node");
    await media?.stop(MEDIA_STOP_GRACE_MS).catch((err: Error) => progress(`stopping media-node: ${err.message}`));
    await Promise.all(
      [...supervised.values()]
        .filter((s) => s !== media)
        .map((s) => s.stop(OTHERS_STOP_GRACE_MS).catch((err: Error) => progress(`stopping ${s.name}: ${err.message}`))),
    );
    for (const s of stoppers.reverse()) {
      await s.stop().catch((err: Error) => progress(`stopping ${s.name}: ${err.message}`));
    }
  };
  const track = (
    name: string,
    spawnIt: (o: SpawnOptions) => Child,
    spawnOpts: SpawnOptions,
    ready: (child: Child) => Promise<void>,
  ) => {
    const s = supervise({
      name,
      spawn: (attempt) => spawnIt({ ...spawnOpts, appendLog: attempt > 0 }),
      ready,
      log: (line) => (opts.log ?? progress)(line),
    });
    supervised.set(name, s);
    return s;
  };
  const childEnv = childEnvironment(env);
  const step = <T>(promise: Promise<T>): Promise<T> => abortable(promise, opts.signal);

  try {
    // The database, the emulators and the demo tools do not depend on each other: start them together.
    progress("starting the database, emulators and demo tools…");
    const dbPromise = startDatabase({
      externalDb,
      pgliteDir: opts.pgliteDir ?? path.join(dataDir, "pglite"),
      port: ports.pglite,
    });
    const emulators = plan.emulators.map(
      (name) =>
        track(
          `${name}-emulator`,
          (o) => spawnTs(`${name}-emulator`, `emulators/${name}/main.ts`, o),
          {
            env: {
              ...childEnv,
              [name === "deepgram" ? "DEEPGRAM_EMULATOR_PORT" : "BEDROCK_EMULATOR_PORT"]: String(ports[name]),
            },
            logDir,
          },
          (child) => child.waitForLine(/listening on/, 30_000).then(() => {}),
        ).ready,
    );
    const toolsPromise = startDemoTools({ port: ports.tools });
    const [dbResult, toolsResult] = await step(Promise.allSettled([dbPromise, toolsPromise]));
    // Whatever started is registered for stopping before a failure of the other is reported.
    if (dbResult.status === "fulfilled") stoppers.unshift({ name: "database", stop: dbResult.value.stop });
    if (toolsResult.status === "fulfilled") stoppers.push({ name: "demo tools", stop: toolsResult.value.close });
    if (dbResult.status === "rejected") throw dbResult.reason;
    if (toolsResult.status === "rejected") throw toolsResult.reason;
    const db = dbResult.value;
    const tools = toolsResult.value;
    const proxy = await startDbProxy({ host: LOOPBACK, port: ports.dbProxy, allow: [hostPortOf(db.url)] });
    stoppers.push({ name: "database proxy", stop: proxy.stop });

    progress("starting the edge (wrangler dev) and the media node…");
    const edgeUrl = `http://${LOOPBACK}:${ports.edge}`;
    // wrangler dev opens workerd's inspector on 9229 unless told otherwise, so a second `npm start` on this machine
    // (another checkout, a test of the platform) would find it taken and the edge would exit: give it a free one.
    const inspectorPort = opts.edgeInspectorPort ?? (opts.edgeRuntime === "miniflare" ? undefined : await freePort());
    const edge = track(
      "edge",
      (o) =>
        (opts.edgeRuntime === "miniflare" ? startMiniflareEdge : startEdge)({
          ports,
          dataDir,
          databaseUrl: db.url,
          proxy: proxy.address,
          secrets,
          twilioToken: twilio.token,
          inspectorPort,
          analysisBedrock: plan.mediaNodeEnv,
          spawn: o,
        }),
      { env: childEnv, logDir },
      (child) => waitForHttp(`${edgeUrl}/`, child, 120_000),
    );
    const media = track(
      "media-node",
      (o) => spawnTs("media-node", "media-nodes/src/main.ts", o),
      {
        env: {
          ...childEnv,
          ...plan.mediaNodeEnv,
          MEDIA_PORT: String(ports.media),
          MEDIA_HOST: LOOPBACK,
          MEDIA_REGION: env.MEDIA_REGION ?? "us-east-1",
          MEDIA_NODE_ID: LOCAL_NODE_ID,
          MEDIA_NODE_SECRET: secrets.nodeSecret,
          EDGE_URL: edgeUrl,
          CALL_TOKEN_PUBLIC_KEYS: `${secrets.callToken.kid}:${secrets.callToken.publicKey}`,
          // Ctrl-C should not wait two minutes for calls to finish on a laptop.
          MEDIA_DRAIN_DEADLINE_MS: env.MEDIA_DRAIN_DEADLINE_MS ?? "2000",
          MEDIA_LOG_LEVEL: env.MEDIA_LOG_LEVEL ?? "info",
        },
        logDir,
      },
      (child) => child.waitForLine(/registered with the edge/, 150_000).then(() => {}),
    );
    // Together, so whichever fails first is the one reported, without waiting for the others.
    await step(Promise.all([...emulators, edge.ready, media.ready]));

    progress("seeding the demo tenant…");
    const tenant = await step(seedDemoTenant({ edgeUrl, dataDir, databaseUrl: db.url, toolsUrl: tools.url }));
    // The demo tools verify the demo tenant's own tool-signing secret, as a tenant's server would.
    tools.useSecret(await step(demoToolSigningSecret(edgeUrl, tenant.apiKey)));

    const childExited = new Promise<ChildEnded>((resolve) => {
      for (const child of supervised.values()) {
        void child.ended.then((ended) => {
          if (!stopping) resolve(ended);
        });
      }
    });
    const mediaUrl = `ws://${LOOPBACK}:${ports.media}`;
    return {
      edgeUrl,
      mediaUrl,
      dataDir,
      databaseUrl: db.url,
      plan,
      tenant,
      twilioAuthToken: twilio.token,
      demoCaller: DEMO_CALLER,
      deepgramEmulatorUrl: plan.deepgram.startEmulator ? plan.deepgram.url : undefined,
      tools,
      warnings,
      lines: [
        `edge API   ${edgeUrl}/v1   (reference: ${edgeUrl}/v1/docs)`,
        `media node ${mediaUrl}   (${LOCAL_NODE_ID}, region ${env.MEDIA_REGION ?? "us-east-1"})`,
        ...plan.describe(),
        `database   ${db.description}`,
        `demo tools ${tools.url}   (lookup_order, get_business_hours)`,
        `logs       ${rel(logDir)}/   secrets ${rel(path.join(dataDir, "local-secrets.json"))}${twilio.source === "environment" ? " (Twilio token from TWILIO_AUTH_TOKEN)" : ""}`,
      ],
      childExited,
      pids: () => [...supervised.values()].map((c) => c.current().pid),
      children: supervised,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new PlatformError("interrupted"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new PlatformError("interrupted"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** The environment children inherit: ours without provider settings (the plan decides those) and with .dev.vars. */
function childEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of PROVIDER_VARS) delete out[name];
  for (const name of Object.values(PORT_VARS)) delete out[name.env];
  // The platform wires the node to the edge itself; a stray setting must not send it elsewhere.
  for (const name of ["MEDIA_AGENTS_FILE", "SESSION_SINK_URL", "MEDIA_PUBLIC_URL", "EDGE_URL"]) delete out[name];
  return out;
}

async function startDatabase(o: {
  externalDb: string | undefined;
  pgliteDir: string;
  port: number;
}): Promise<{ url: string; description: string; stop: () => Promise<void> }> {
  let node: NodeDb;
  try {
    node = await openNodeDb({ url: o.externalDb, pgliteDir: o.pgliteDir });
    await node.migrate();
  } catch (err) {
    throw new PlatformError(
      `the database could not be opened and migrated: ${(err as Error).message}${o.externalDb ? " (check DATABASE_URL)" : ` (delete ${rel(o.pgliteDir)} to start over)`}`,
    );
  }
  if (!node.pglite) {
    await node.close();
    return {
      url: o.externalDb ?? "",
      description: `${redact(o.externalDb ?? "")} (DATABASE_URL, migrated)`,
      stop: async () => {},
    };
  }
  let served: Served;
  try {
    served = await servePglite(node.pglite, { host: LOOPBACK, port: o.port });
  } catch (err) {
    await node.close();
    throw err;
  }
  return {
    url: served.url,
    description: `${served.url}   (PGlite, data in ${o.pgliteDir.startsWith("memory://") ? "memory" : rel(o.pgliteDir)})`,
    // Closing PGlite flushes it to disk; the server goes first so no query is cut off mid-write.
    stop: async () => {
      await served.stop();
      await node.close();
    },
  };
}

type EdgeStart = Parameters<typeof startEdge>[0];

/** The Worker's vars: where the database is, and the secrets of this machine. */
function edgeVars(o: EdgeStart): Record<string, string> {
  const vars: Record<string, string> = {
    DATABASE_URL: o.databaseUrl,
    DB_WS_PROXY: o.proxy,
    TWILIO_AUTH_TOKEN: o.twilioToken,
    CALL_TOKEN_PRIVATE_KEY: o.secrets.callToken.privateKey,
    CALL_TOKEN_KID: o.secrets.callToken.kid,
    MEDIA_NODE_SECRETS: JSON.stringify({ [LOCAL_NODE_ID]: o.secrets.nodeSecret }),
    ...localKekVars(o.secrets),
  };
  // The media node's Bedrock settings: the edge runs post-call analyses against the same Bedrock.
  const bedrock = o.analysisBedrock;
  if (bedrock.BEDROCK_ENDPOINT) vars.BEDROCK_ENDPOINT = bedrock.BEDROCK_ENDPOINT;
  if (bedrock.AWS_REGION) vars.BEDROCK_REGION = bedrock.AWS_REGION;
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const) {
    const v = bedrock[name];
    if (v) vars[name] = v;
  }
  return vars;
}

function startEdge(o: {
  ports: PlatformPorts;
  dataDir: string;
  databaseUrl: string;
  proxy: string;
  secrets: LocalSecrets;
  twilioToken: string;
  inspectorPort: number | undefined;
  analysisBedrock: Record<string, string>;
  spawn: SpawnOptions;
}): Child {
  const vars = edgeVars(o);
  // The wrangler script itself, not `npx wrangler`: no npm wrapper between us and the signals. wrangler and its
  // workerd do not watch their parent, so orphan-guard.mjs (a few lines of plain Node) does it for them.
  return spawnChild(
    "edge",
    process.execPath,
    [
      path.join(REPO_ROOT, "scripts/platform/orphan-guard.mjs"),
      path.join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--ip",
      LOOPBACK,
      "--port",
      String(o.ports.edge),
      "--show-interactive-dev-session=false",
      "--persist-to",
      path.join(o.dataDir, "edge-state"),
      ...(o.inspectorPort ? ["--inspector-port", String(o.inspectorPort)] : []),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      ...o.spawn,
      env: {
        ...o.spawn.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_LOG_PATH: path.join(o.spawn.logDir, "wrangler"),
      },
    },
  );
}

function startMiniflareEdge(o: EdgeStart): Child {
  const vars = edgeVars(o);
  return spawnTs("edge", "scripts/platform/miniflare-edge.ts", {
    ...o.spawn,
    env: {
      ...o.spawn.env,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      EDGE_PORT: String(o.ports.edge),
      EDGE_VARS: JSON.stringify(vars),
      EDGE_PERSIST_TO: path.join(o.dataDir, "edge-state-miniflare"),
      ...(o.inspectorPort ? { EDGE_INSPECTOR_PORT: String(o.inspectorPort) } : {}),
    },
  });
}

function checkPackages(plan: ProviderPlan): string[] {
  const warnings: string[] = [];
  if (plan.deepgram.startEmulator && spawnSync("espeak-ng", ["--version"], { stdio: "ignore" }).error) {
    warnings.push(
      "espeak-ng is not installed: the emulated agent speaks with a synthetic tone voice (sudo apt-get install espeak-ng for real speech)",
    );
  }
  return warnings;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
