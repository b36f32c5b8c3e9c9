// Where the edge's workerd keeps native memory under load, one suspect at a time (docs/reliability.md, "Memory
// over time"). A ten-line Worker under Miniflare does, in rounds, one of the things each call makes the edge do,
// waits for workerd to evict what it can, and samples workerd's resident memory from /proc (anonymous vs
// file-backed) and its V8 heap (inspector, no snapshot: a snapshot itself steps RSS up):
//
//   plain      a response from the Worker itself (control: the least a request costs)
//   new-do     a new SQLite-backed Durable Object per request (the edge's CallLedger: one per call), evicted after
//   same-do    the same object every request (control: same work, no new object)
//   queue      a message sent to a queue and consumed (the analysis and webhook queues)
//   ws-out     an outbound WebSocket opened, used and closed (the edge's Postgres connections, Neon's driver over
//              the loopback proxy)
//
//   npx tsx bench/workerd-native-growth.ts VARIANT [per-round=500] [rounds=6] [persist=disk|memory] [inspector|no-inspector]
//
// An attached inspector session could itself keep something per request, hence `no-inspector` (RSS only).
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { WebSocketServer } from "ws";
import { InspectorSession, inspectorTargets, workerTarget } from "./lib/inspector.ts";
import { startTinyWorker } from "./lib/tiny-worker.ts";

const VARIANTS = ["plain", "new-do", "same-do", "queue", "ws-out"] as const;
type Variant = (typeof VARIANTS)[number];
const variant = process.argv[2] as Variant;
if (!VARIANTS.includes(variant)) throw new Error(`variant: one of ${VARIANTS.join(", ")}`);
const perRound = Number(process.argv[3] ?? 500);
const rounds = Number(process.argv[4] ?? 6);
const persist = process.argv[5] === "memory" ? "memory" : "disk";
const inspect = process.argv[6] !== "no-inspector";

const echo = new WebSocketServer({ host: "127.0.0.1", port: 0 });
echo.on("connection", (ws) => {
  ws.on("message", (m) => ws.send(m));
  ws.on("close", () => ws.terminate());
});
await new Promise((r) => echo.once("listening", r));
const echoPort = (echo.address() as { port: number }).port;

const script = `
import { DurableObject } from "cloudflare:workers";
export class Obj extends DurableObject {
  async fetch() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)");
    for (let i = 0; i < 20; i++) sql.exec("INSERT OR REPLACE INTO kv VALUES (?, ?)", "k" + i, "x".repeat(200));
    return new Response(String(sql.exec("SELECT count(*) AS n FROM kv").one().n));
  }
}
export default {
  async fetch(req, env) {
    const n = new URL(req.url).searchParams.get("n");
    if (VARIANT === "plain") return new Response("ok");
    if (VARIANT === "new-do") return env.OBJ.getByName(n).fetch(req);
    if (VARIANT === "same-do") return env.OBJ.getByName("one").fetch(req);
    if (VARIANT === "queue") { await env.Q.send({ n, body: "x".repeat(2000) }); return new Response("sent"); }
    const ws = new WebSocket("ws://127.0.0.1:ECHO_PORT/");
    await new Promise((resolve, reject) => { ws.addEventListener("open", resolve); ws.addEventListener("error", reject); });
    const got = new Promise((resolve) => ws.addEventListener("message", resolve, { once: true }));
    ws.send("x".repeat(2000));
    await got;
    ws.close();
    return new Response("ws");
  },
  async queue(batch) { for (const m of batch.messages) m.ack(); },
};`
  .replaceAll("VARIANT", JSON.stringify(variant))
  .replaceAll("ECHO_PORT", String(echoPort));

const { mf, url, inspectorPort, dir } = await startTinyWorker(script, {
  prefix: "native-growth",
  persist: persist === "disk",
  extra: {
    queueProducers: { Q: { queueName: "q" } },
    queueConsumers: { q: { maxBatchSize: 10, maxBatchTimeout: 1 } },
  },
});
const inspector = inspect
  ? await InspectorSession.connect((await workerTarget(inspectorPort)).webSocketDebuggerUrl)
  : undefined;
if (inspect) console.log(`inspector targets: ${(await inspectorTargets(inspectorPort)).map((t) => t.id).join(", ")}`);

/** workerd processes below this one. */
function workerdPids(): number[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      comm.set(Number(e), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...comm].filter(([pid, c]) => c === "workerd" && below(pid)).map(([pid]) => pid);
}
const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
const [workerd] = workerdPids();
if (!workerd) throw new Error("no workerd below this process");

const sample = async (label: string, done: number) => {
  const status = readFileSync(`/proc/${workerd}/status`, "utf8");
  const heap = (await inspector?.heapUsage()) ?? { usedBytes: Number.NaN, totalBytes: Number.NaN };
  const fds = readdirSync(`/proc/${workerd}/fd`).length;
  console.log(
    [
      variant.padEnd(8),
      persist.padEnd(6),
      label.padEnd(14),
      `${String(done).padStart(5)} requests`,
      `RssAnon ${(kb(status, "RssAnon") / 1024).toFixed(1)} MB`,
      `RssFile ${(kb(status, "RssFile") / 1024).toFixed(1)} MB`,
      `V8 heap ${(heap.usedBytes / 1024 / 1024).toFixed(1)} / ${(heap.totalBytes / 1024 / 1024).toFixed(1)} MB`,
      `fds ${fds}`,
    ].join("  "),
  );
};

try {
  await sample("start", 0);
  let done = 0;
  for (let round = 1; round <= rounds; round++) {
    const next = async () => {
      while (done < round * perRound) {
        const i = done++;
        const res = await fetch(new URL(`/?n=obj-${i}`, url));
        await res.arrayBuffer();
      }
    };
    // Ten at a time, as a handful of concurrent calls would.
    await Promise.all(Array.from({ length: 10 }, next));
    await sample(`round ${round}`, done);
    // Past workerd's 10 s eviction of idle objects, and the queue's batches.
    await new Promise((r) => setTimeout(r, 15_000));
    await sample(`round ${round} idle`, done);
  }
} finally {
  inspector?.close();
  await mf.dispose();
  echo.close();
  await rm(dir, { recursive: true, force: true });
}
