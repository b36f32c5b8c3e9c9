// The smallest reproduction of the edge's memory growth (docs/reliability.md, "Memory over time"): a ten-line
// SQLite-backed Durable Object under Miniflare, N objects each called once, then left idle until workerd evicts
// them; workerd's heap is counted through its inspector. With `plain` (SQL only), `alarm`, `ws` (a hibernatable
// WebSocket) or `rpc`, nothing of an evicted object stays. With `kv` (ctx.storage.kv.get/put) or `kv-touch`
// (only reading the ctx.storage.kv property), every object's DurableObjectStorage, SqlStorage and SQLite handle
// stay in memory for good. workerd 1.20260426 (Miniflare 4.20260426.0, wrangler 4.86.0).
//
//   npx tsx bench/workerd-storage-kv-leak.ts [plain|alarm|ws|rpc|kv|kv-touch] [N=100]
import { rm } from "node:fs/promises";
import path from "node:path";
import WebSocket from "ws";
import { summarizeHeapSnapshot } from "./lib/heap-snapshot.ts";
import { InspectorSession, workerTarget } from "./lib/inspector.ts";
import { startTinyWorker } from "./lib/tiny-worker.ts";

const VARIANTS = ["plain", "alarm", "ws", "rpc", "kv", "kv-touch"] as const;
type Variant = (typeof VARIANTS)[number];
const variant = (process.argv[2] ?? "kv") as Variant;
if (!VARIANTS.includes(variant)) throw new Error(`variant: one of ${VARIANTS.join(", ")}`);
const n = Number(process.argv[3] ?? 100);

const script = `
import { DurableObject } from "cloudflare:workers";
export class Obj extends DurableObject {
  async fetch(req) {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x)");
    this.ctx.storage.sql.exec("INSERT INTO t VALUES (?)", Date.now());
    if (VARIANT === "alarm") await this.ctx.storage.setAlarm(Date.now() + 100);
    if (VARIANT === "kv") { this.ctx.storage.kv.put("k", { a: 1 }); this.ctx.storage.kv.get("k"); }
    if (VARIANT === "kv-touch") void this.ctx.storage.kv;
    if (req.headers.get("upgrade") === "websocket") {
      const pair = new WebSocketPair();
      this.ctx.acceptWebSocket(pair[1]);
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    return new Response("ok");
  }
  hello() { this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x)"); return { ok: true }; }
  webSocketMessage(ws, m) { ws.send(m); }
  webSocketClose(ws, code) { ws.close(code, "bye"); }
  alarm() { this.ctx.storage.sql.exec("INSERT INTO t VALUES (1)"); }
}
export default {
  async fetch(req, env) {
    const stub = env.OBJ.getByName(new URL(req.url).searchParams.get("n"));
    if (VARIANT === "rpc") return Response.json(await stub.hello());
    return stub.fetch(req);
  },
};`.replaceAll("VARIANT", JSON.stringify(variant));

const { mf, url, inspectorPort, dir } = await startTinyWorker(script, { prefix: "kv-leak" });
const inspector = await InspectorSession.connect((await workerTarget(inspectorPort)).webSocketDebuggerUrl);
const count = async (when: string) => {
  const heap = await summarizeHeapSnapshot(path.join(dir, `${when}.heapsnapshot`)).catch(() => undefined);
  const g = (k: string) => heap?.groups.get(k)?.count ?? 0;
  console.log(
    `${variant.padEnd(8)} ${when.padEnd(22)} live objects ${g("native workerd / DurableObjectState")}, SqlStorage ${g("native workerd / SqlStorage")}`,
  );
};
const snapshot = async (when: string) => {
  await inspector.heapSnapshot(path.join(dir, `${when}.heapsnapshot`));
  await count(when);
};
try {
  await snapshot("start");
  for (let round = 1; round <= 2; round++) {
    for (let i = 0; i < n; i++) {
      const target = new URL(`/?n=obj-${round}-${i}`, url);
      await fetch(target);
      if (variant === "ws") {
        const ws = new WebSocket(target.href.replace(/^http/, "ws"));
        await new Promise((r) => ws.once("open", r));
        ws.send("hi");
        await new Promise((r) => ws.once("message", r));
        ws.close(1000, "done");
        await new Promise((r) => ws.once("close", r));
      }
    }
    await snapshot(`after ${round * n} calls`);
    await new Promise((r) => setTimeout(r, 20_000));
    await snapshot(`20 s idle (${round * n})`);
  }
} finally {
  inspector.close();
  await mf.dispose();
  await rm(dir, { recursive: true, force: true });
}
