// Runs a command against a fresh, migrated database reachable the way the Worker reaches it locally:
// through the loopback WebSocket proxy. Used by scripts/test.mjs for the workerd suites, and by hand:
//
//   npx tsx scripts/with-db.ts postgres -- npx vitest run --config vitest.workers.config.ts
//   npx tsx scripts/with-db.ts pglite   -- npx vitest run --config vitest.workers.config.ts test/workers/agents
//
// postgres: creates a uniquely named database on the server in DATABASE_URL (default: the local test server),
//           migrates it, and drops it afterwards.
// pglite:   an in-memory PGlite, migrated, served over TCP by workers/src/db/pglite-server.ts.
// Both pick free ports and pass DATABASE_URL and DB_WS_PROXY to the command's environment, plus
// TEST_DATABASE_URL_EU: a second, separate database of the same kind behind the same proxy, for the suite that
// proves an EU tenant's data stays in the EU database (it sets DATABASE_URL_EU to it for its own requests), and
// TEST_DATABASE_URL_HUNG / TEST_DATABASE_URL_DOWN: a database that accepts and never answers and one that refuses,
// for the suites that prove a database outage costs no call.
import { spawn } from "node:child_process";
import {
  closedDatabaseUrl,
  createScratchDatabase,
  hostPortOf,
  openNodeDb,
  servePglite,
  startDbProxy,
  startHungDatabase,
} from "../workers/src/db/node.ts";

const DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/test";

type Backend = { url: string; stop: () => Promise<void> };

async function startBackend(kind: string): Promise<Backend> {
  if (kind === "postgres") {
    const scratch = await createScratchDatabase(process.env.DATABASE_URL ?? DEFAULT_SERVER);
    const node = await openNodeDb({ url: scratch.url });
    try {
      await node.migrate();
    } finally {
      await node.close();
    }
    return { url: scratch.url, stop: scratch.drop };
  }
  if (kind === "pglite") {
    const node = await openNodeDb({ url: "", pgliteDir: "memory://" });
    await node.migrate();
    if (!node.pglite) throw new Error("expected a PGlite handle");
    const served = await servePglite(node.pglite);
    return {
      url: served.url,
      stop: async () => {
        await served.stop();
        await node.close();
      },
    };
  }
  throw new Error(`unknown backend "${kind}": use postgres or pglite`);
}

async function main(): Promise<number> {
  const [kind, separator, ...command] = process.argv.slice(2);
  if (!kind || separator !== "--" || command.length === 0) {
    console.error("usage: tsx scripts/with-db.ts <postgres|pglite> -- <command> [args…]");
    return 2;
  }
  const [backend, eu, hung, downUrl] = await Promise.all([
    startBackend(kind),
    startBackend(kind),
    startHungDatabase(),
    closedDatabaseUrl(),
  ]);
  const proxy = await startDbProxy({
    port: 0,
    allow: [...new Set([backend.url, eu.url, hung.url, downUrl].map(hostPortOf))],
  });
  const stopAll = async () => {
    await proxy.stop();
    await Promise.all([backend.stop(), eu.stop(), hung.stop()]);
  };
  try {
    const [cmd = "", ...args] = command;
    const child = spawn(cmd, args, {
      stdio: "inherit",
      env: {
        ...process.env,
        DATABASE_URL: backend.url,
        TEST_DATABASE_URL_EU: eu.url,
        TEST_DATABASE_URL_HUNG: hung.url,
        TEST_DATABASE_URL_DOWN: downUrl,
        DB_WS_PROXY: proxy.address,
        AYBIZA_DB_BACKEND: kind,
      },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((resolve) => {
      child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
      child.on("error", (err) => {
        console.error(`could not run ${cmd}: ${err.message}`);
        resolve(127);
      });
    });
  } finally {
    await stopAll();
  }
}

process.exitCode = await main();
