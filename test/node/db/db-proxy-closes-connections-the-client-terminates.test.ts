// The Worker ends a pool per request; Neon's driver then sends Terminate and waits for the server to hang up, as
// Postgres does. Through the local proxy to PGlite that must happen too, or every request leaves a connection
// open until PGlite's limit refuses everyone.
import { neonConfig, Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import {
  type DbProxy,
  openNodeDb,
  type Served,
  servePglite,
  startDbProxy,
  TerminateWatcher,
} from "../../../workers/src/db/node.ts";

let served: Served;
let proxy: DbProxy;
let closeDb: () => Promise<void>;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  const node = await openNodeDb({ url: "", pgliteDir: "memory://" });
  if (!node.pglite) throw new Error("expected PGlite");
  closeDb = node.close;
  // A small limit: leaked connections would exhaust it within the test.
  served = await servePglite(node.pglite, { maxConnections: 3 });
  proxy = await startDbProxy({ port: 0, allow: [`${served.host}:${served.port}`] });
  neonConfig.webSocketConstructor = class extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  };
  neonConfig.wsProxy = (host, port) => `${proxy.address}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
});

afterAll(async () => {
  await proxy.stop();
  await served.stop();
  await closeDb();
});

test("ten pools opened and ended one after another all get answers and leave no connection open", async () => {
  for (let i = 0; i < 10; i++) {
    const pool = new Pool({ connectionString: served.url, max: 1 });
    const { rows } = await pool.query("select $1::int as n", [i]);
    expect(rows).toEqual([{ n: i }]);
    await pool.end();
  }
  const deadline = Date.now() + 5_000;
  while (sockets.some((s) => s.readyState !== WebSocket.CLOSED) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(sockets).toHaveLength(10);
  expect(sockets.filter((s) => s.readyState !== WebSocket.CLOSED)).toHaveLength(0);
});

test("the watcher sees Terminate only at a message boundary, however the bytes are split", () => {
  const startup = Buffer.alloc(8 + 9);
  startup.writeInt32BE(17, 0);
  startup.writeInt32BE(196608, 4);
  startup.write("user\0pg\0\0", 8);
  // A query whose text contains the Terminate bytes must not count.
  const text = Buffer.from("select 'X\u0000\u0000\u0000\u0004'\u0000", "latin1");
  const query = Buffer.concat([Buffer.from([0x51, 0, 0, 0, 4 + text.length]), text]);
  const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
  const stream = Buffer.concat([startup, query, terminate]);

  const whole = new TerminateWatcher();
  expect(whole.push(Buffer.concat([startup, query]))).toBe(false);
  expect(whole.push(terminate)).toBe(true);

  for (const size of [1, 2, 3, 7]) {
    const watcher = new TerminateWatcher();
    const seen: boolean[] = [];
    for (let i = 0; i < stream.length; i += size) seen.push(watcher.push(stream.subarray(i, i + size)));
    expect(seen.at(-1), `chunks of ${size}`).toBe(true);
    expect(seen.slice(0, Math.floor((stream.length - 5) / size)).some(Boolean), `chunks of ${size}`).toBe(false);
  }
});
