// `npm start`: the whole platform on one machine, offline. For now: the database (embedded PGlite in
// .data/pglite, or the Postgres in DATABASE_URL), the loopback WebSocket proxy the Worker reaches it through,
// and the edge Worker under `wrangler dev`. Later issues add the media node and the provider emulators: each
// is one more entry in the `services` list below.
//
// Ports (each overridable): edge 8787 (EDGE_PORT), database proxy 55433 (DB_PROXY_PORT),
// PGlite over TCP 55432 (PGLITE_PORT). Ctrl-C stops everything, in reverse order.
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import {
  type DbProxy,
  DEFAULT_PGLITE_DIR,
  DEFAULT_PROXY_PORT,
  hostPortOf,
  openNodeDb,
  type Served,
  servePglite,
  startDbProxy,
} from "../workers/src/db/node.ts";

const HOST = "127.0.0.1";
const EDGE_PORT = portFromEnv("EDGE_PORT", 8787);
const PROXY_PORT = portFromEnv("DB_PROXY_PORT", DEFAULT_PROXY_PORT);
const PGLITE_PORT = portFromEnv("PGLITE_PORT", 55432);
const EXTERNAL_DB = process.env.DATABASE_URL;

/** Facts services publish for the ones started after them. */
type Context = { databaseUrl?: string; proxyAddress?: string };

type Running = { lines: string[]; stop: () => Promise<void>; exited?: Promise<number> };

type Service = {
  name: string;
  /** Ports the service will bind, checked before anything starts. */
  ports: Array<{ port: number; envVar: string }>;
  start: (ctx: Context) => Promise<Running>;
};

const services: Service[] = [
  {
    name: "database",
    ports: EXTERNAL_DB ? [] : [{ port: PGLITE_PORT, envVar: "PGLITE_PORT" }],
    async start(ctx) {
      const node = await openNodeDb({ url: EXTERNAL_DB, pgliteDir: DEFAULT_PGLITE_DIR });
      await node.migrate();
      if (!node.pglite) {
        ctx.databaseUrl = EXTERNAL_DB;
        await node.close();
        return { lines: [`database   ${redact(EXTERNAL_DB ?? "")} (migrated)`], stop: async () => {} };
      }
      let served: Served;
      try {
        served = await servePglite(node.pglite, { host: HOST, port: PGLITE_PORT });
      } catch (err) {
        await node.close();
        throw err;
      }
      ctx.databaseUrl = served.url;
      return {
        lines: [`database   ${served.url}  (PGlite, data in ${DEFAULT_PGLITE_DIR})`],
        // Closing PGlite flushes it to disk; the server goes first so no query is cut off mid-write.
        stop: async () => {
          await served.stop();
          await node.close();
        },
      };
    },
  },
  {
    name: "database proxy",
    ports: [{ port: PROXY_PORT, envVar: "DB_PROXY_PORT" }],
    async start(ctx) {
      if (!ctx.databaseUrl) throw new Error("the database did not start");
      const proxy: DbProxy = await startDbProxy({ host: HOST, port: PROXY_PORT, allow: [hostPortOf(ctx.databaseUrl)] });
      ctx.proxyAddress = proxy.address;
      return {
        lines: [`db proxy   ws://${proxy.address}  (loopback only, for the Worker's Neon driver)`],
        stop: proxy.stop,
      };
    },
  },
  {
    name: "edge",
    ports: [{ port: EDGE_PORT, envVar: "EDGE_PORT" }],
    async start(ctx) {
      if (!ctx.databaseUrl || !ctx.proxyAddress) throw new Error("the database proxy did not start");
      // The wrangler script itself, not `npx wrangler`: signals then reach wrangler, not an npm wrapper.
      const child = spawn(
        process.execPath,
        [
          fileURLToPath(new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url)),
          "dev",
          "--ip",
          HOST,
          "--port",
          String(EDGE_PORT),
          "--show-interactive-dev-session=false",
          "--var",
          `DATABASE_URL:${ctx.databaseUrl}`,
          "--var",
          `DB_WS_PROXY:${ctx.proxyAddress}`,
        ],
        {
          stdio: ["ignore", "inherit", "inherit"],
          env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
        },
      );
      const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 0)));
      await waitForHttp(`http://${HOST}:${EDGE_PORT}/`, exited, 90_000);
      const base = `http://${HOST}:${EDGE_PORT}`;
      return {
        lines: [`edge API   ${base}/v1`, `API docs   ${base}/v1/docs   (OpenAPI: ${base}/v1/openapi.json)`],
        stop: () => stopChild(child, exited),
        exited,
      };
    },
  },
];

async function main(): Promise<number> {
  const busy: string[] = [];
  for (const s of services) {
    for (const { port, envVar } of s.ports) if (!(await portIsFree(port))) busy.push(`${port} (${s.name}, ${envVar})`);
  }
  if (busy.length > 0) {
    console.error(
      `npm start: port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} already in use — stop what is using it (another npm start?) or set the variable to a free port.`,
    );
    return 1;
  }

  const ctx: Context = {};
  const running: Running[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    for (const r of running.reverse()) await r.stop().catch((err: Error) => console.error(`stopping: ${err.message}`));
  };
  const onSignal = () => {
    console.log("\nstopping…");
    void stopAll().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    for (const s of services) {
      process.stdout.write(`starting ${s.name}…\n`);
      running.push(await s.start(ctx));
    }
  } catch (err) {
    console.error(`npm start: could not start: ${describe(err)}`);
    await stopAll();
    return 1;
  }

  console.log(`\nAYBIZA is running:\n  ${running.flatMap((r) => r.lines).join("\n  ")}\nCtrl-C stops everything.\n`);
  // If a child (wrangler) dies on its own, take the rest down with it instead of leaving half a platform.
  const code = await Promise.race(running.flatMap((r) => (r.exited ? [r.exited] : [])));
  if (!stopping) {
    console.error(`npm start: a service exited (code ${code}); stopping the rest.`);
    await stopAll();
    return code || 1;
  }
  return 0;
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw ? Number(raw) : fallback;
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    console.error(`npm start: ${name}=${raw} is not a port number.`);
    process.exit(1);
  }
  return port;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

async function waitForHttp(url: string, exited: Promise<number>, timeoutMs: number): Promise<void> {
  let gone: number | undefined;
  void exited.then((code) => {
    gone = code;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`wrangler dev exited with code ${gone} before serving ${url}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

async function stopChild(child: ChildProcess, exited: Promise<number>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

function describe(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && err.code === "EADDRINUSE") {
    return `a port is already in use (${(err as { address?: string; port?: number }).port ?? "?"}).`;
  }
  return err instanceof Error ? err.message : String(err);
}

process.exitCode = await main();
