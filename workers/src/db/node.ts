// Database access for Node processes (scripts, tests, the start command, later the migrations job).
// Node-only: pg, PGlite and node:net. The Worker uses ./client.ts instead and must never import this file.
//
//  - openNodeDb(): node-postgres when a DATABASE_URL is given, else embedded PGlite (persistent directory).
//  - migrateDb(): applies migrations/ (drizzle-kit output plus the hand-written ones).
//  - servePglite(): exposes a PGlite over the Postgres wire protocol on loopback TCP (pglite-server.ts).
//  - startDbProxy(): the loopback WebSocket→TCP proxy the Neon driver in workerd connects through.
//  - createScratchDatabase(): a fresh, uniquely named database on a real server, for one test run.
//  - startHungDatabase() / closedDatabaseUrl(): a database that accepts and never answers, and one that refuses,
//    for the suites that prove a database outage costs no call.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { WebSocketServer } from "ws";
import { startPgliteServer } from "./pglite-server.ts";
import * as schema from "./schema.ts";
import type { Db } from "./types.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../../migrations", import.meta.url));
export const DEFAULT_PGLITE_DIR = ".data/pglite";
export const DEFAULT_PROXY_PORT = 55433;

export type NodeDb = {
  kind: "postgres" | "pglite";
  db: Db;
  /** Set when kind is "pglite": the embedded instance, e.g. to serve it with servePglite(). */
  pglite: PGlite | undefined;
  migrate: () => Promise<void>;
  close: () => Promise<void>;
};

export type OpenNodeDbOptions = {
  /** A postgres:// URL. Defaults to the DATABASE_URL environment variable; when neither is set, PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory, or "memory://" for a throwaway in-memory database. */
  pgliteDir?: string;
  /** Connection pool size for node-postgres. */
  max?: number;
};

/**
 * The one factory for Node-side database handles.
 *
 * @example
 * const { db, migrate, close } = await openNodeDb();           // PGlite in .data/pglite unless DATABASE_URL is set
 * const test = await openNodeDb({ pgliteDir: "memory://" });   // in-memory PGlite
 */
export async function openNodeDb({
  url = process.env.DATABASE_URL,
  pgliteDir = DEFAULT_PGLITE_DIR,
  max = 4,
}: OpenNodeDbOptions = {}): Promise<NodeDb> {
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max });
    const db = drizzlePg({ client: pool, schema });
    return {
      kind: "postgres",
      db,
      pglite: undefined,
      migrate: () => migratePg(db, { migrationsFolder: MIGRATIONS_DIR }),
      close: () => pool.end(),
    };
  }
  if (!pgliteDir.startsWith("memory://")) mkdirSync(pgliteDir, { recursive: true });
  const pglite = await PGlite.create(pgliteDir);
  const db = drizzlePglite({ client: pglite, schema });
  return {
    kind: "pglite",
    db,
    pglite,
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_DIR }),
    close: () => pglite.close(),
  };
}

export type Served = { host: string; port: number; url: string; stop: () => Promise<void> };

/**
 * Serves a PGlite instance over TCP on loopback so the proxy (and psql, drizzle-kit) can reach it.
 * PGlite is one session; connections take turns, each turn a whole extended-protocol exchange or a whole
 * transaction (pglite-server.ts), so several connections are safe, just not parallel. The Worker opens a pool per
 * request and closes it after the response, so many short-lived connections overlap: the cap is generous.
 */
export async function servePglite(
  pglite: PGlite,
  {
    host = "127.0.0.1",
    port = 0,
    maxConnections = 512,
  }: { host?: string; port?: number; maxConnections?: number } = {},
): Promise<Served> {
  assertLoopback(host);
  const server = await startPgliteServer(pglite, { host, port, maxConnections });
  return {
    host,
    port: server.port,
    url: `postgres://postgres@${host}:${server.port}/postgres`,
    stop: server.stop,
  };
}

export type DbProxy = {
  host: string;
  port: number;
  address: string;
  /** Connections accepted since the start (each is one WebSocket from workerd, one Postgres connection). */
  accepted: () => number;
  stop: () => Promise<void>;
};

/**
 * The loopback WebSocket→TCP proxy for the Neon driver (protocol: after the upgrade, every binary message is raw
 * Postgres wire bytes; the target is the `address=host:port` query parameter).
 *
 * It lets anything that can open a WebSocket on this machine speak to a database, so it is fenced in:
 * it only binds loopback, only dials the `allow`-listed targets, and refuses browser-originated upgrades
 * (they carry an Origin header; workerd and Node clients do not), so a web page cannot reach a trust-auth Postgres.
 *
 * @example
 * const proxy = await startDbProxy({ allow: ["127.0.0.1:5432"] });   // DB_WS_PROXY=proxy.address
 */
export async function startDbProxy({
  host = "127.0.0.1",
  port = DEFAULT_PROXY_PORT,
  allow = ["127.0.0.1:5432"],
}: {
  host?: string;
  port?: number;
  allow?: string[];
} = {}): Promise<DbProxy> {
  assertLoopback(host);
  const allowed = new Set(allow);
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required\n");
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = new URL(req.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const refuse = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (req.headers.origin !== undefined) return refuse(403, "Forbidden");
    if (!allowed.has(target)) return refuse(403, "Forbidden");
    const [targetHost = "", targetPort = ""] = splitHostPort(target);
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted++;
      const tcp = net.connect(Number(targetPort), targetHost);
      sockets.add(tcp);
      const early: Buffer[] = [];
      // Postgres closes the connection when the client sends Terminate, and Neon's driver relies on that (it never
      // closes its WebSocket itself). pglite-socket, our earlier PGlite server, kept the socket open, and every pool
      // the Worker ended left a connection behind; the proxy closes on Terminate too, whatever the server does.
      const watcher = new TerminateWatcher();
      tcp.on("connect", () => {
        for (const chunk of early) tcp.write(chunk);
        early.length = 0;
        if (watcher.terminated) tcp.end();
      });
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        const terminated = watcher.push(chunk);
        if (tcp.connecting) early.push(chunk);
        else {
          tcp.write(chunk);
          if (terminated) tcp.end();
        }
      });
      tcp.on("data", (chunk) => ws.send(chunk));
      const closeBoth = () => {
        sockets.delete(tcp);
        tcp.destroy();
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      };
      tcp.on("close", closeBoth);
      tcp.on("error", closeBoth);
      ws.on("close", closeBoth);
      ws.on("error", closeBoth);
    });
  });

  await listen(server, port, host);
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  return {
    host,
    port: bound,
    address: `${host}:${bound}`,
    accepted: () => accepted,
    stop: async () => {
      for (const s of sockets) s.destroy();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Follows the client→server messages of the Postgres wire protocol just far enough to see a Terminate ('X'):
 * untyped messages (SSLRequest, GSSENCRequest, the startup message) until the startup message, then
 * `type byte + int32 length`. Bodies are skipped, never buffered. Anything it cannot frame turns it off.
 */
export class TerminateWatcher {
  terminated = false;
  #startup = true;
  #off = false;
  #header = Buffer.alloc(0);
  #skip = 0;

  /** Feeds client bytes in order; true once a Terminate message has been seen. */
  push(chunk: Buffer): boolean {
    let i = 0;
    while (!this.#off && !this.terminated && i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const need = this.#startup ? 8 : 5;
      const take = Math.min(need - this.#header.length, chunk.length - i);
      this.#header = Buffer.concat([this.#header, chunk.subarray(i, i + take)]);
      i += take;
      if (this.#header.length < need) break;
      if (this.#startup) {
        const length = this.#header.readInt32BE(0);
        // Protocol 3.x: the startup message; requests (SSL, GSS, cancel) use codes above 1234 << 16.
        if (this.#header.readInt32BE(4) >>> 16 === 3) this.#startup = false;
        this.#skip = length - 8;
        if (length < 8) this.#off = true;
      } else {
        const length = this.#header.readInt32BE(1);
        if (this.#header[0] === 0x58 && length === 4) this.terminated = true;
        this.#skip = length - 4;
        if (length < 4) this.#off = true;
      }
      this.#header = Buffer.alloc(0);
    }
    return this.terminated;
  }
}

/**
 * Creates an empty, uniquely named database on a real server (for one test run) and returns its URL.
 * `drop()` removes it again, even with connections still open.
 */
export async function createScratchDatabase(
  serverUrl: string,
  { prefix = "aybiza_test" }: { prefix?: string } = {},
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A "database" that is hung the way a stopped Postgres process is: the kernel accepts the connection, nothing ever
 * answers. Every byte sent to it is swallowed. `stop()` closes it and every connection it accepted.
 */
export async function startHungDatabase({ host = "127.0.0.1" }: { host?: string } = {}): Promise<Served> {
  assertLoopback(host);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    host,
    port,
    url: `postgres://postgres@${host}:${port}/hung`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The URL of a database that is down: a loopback port that was free a moment ago, so connecting is refused. */
export async function closedDatabaseUrl(host = "127.0.0.1"): Promise<string> {
  assertLoopback(host);
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `postgres://postgres@${host}:${port}/down`;
}

/** `host:port` of a postgres:// URL, the form the proxy allow-list uses. */
export function hostPortOf(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `${u.hostname}:${u.port || "5432"}`;
}

function splitHostPort(target: string): [string, string] {
  const i = target.lastIndexOf(":");
  return [target.slice(0, i), target.slice(i + 1)];
}

function assertLoopback(host: string): void {
  if (!["127.0.0.1", "::1", "localhost"].includes(host)) {
    throw new Error(`refusing to bind ${host}: database endpoints are only ever served on loopback`);
  }
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
