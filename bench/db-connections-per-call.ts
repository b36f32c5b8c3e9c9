// How many Postgres connections one call makes the edge open, and what each was for (docs/reliability.md, "Where
// the edge's workerd memory goes"). The whole platform runs locally (scripts/local-platform.ts), but
// the Worker's DB_WS_PROXY points at a tracing proxy here that pipes like workers/src/db/node.ts and reads the
// statements each connection carries, so a connection is attributed by what it did (the voice webhook's number
// lookup, an outbox flush's upserts, the events consumer's delivery rows …).
//
//   npx tsx bench/db-connections-per-call.ts [calls=1] [pglite|postgres]
//
// Prints one line per connection (ms after the call was placed, its first statements) and a summary by kind.
import net from "node:net";
import { WebSocketServer } from "ws";
import { newCallSid, runCall } from "../emulators/twilio-caller/caller.ts";
import { FRONT_DESK, fixtureLines, LocalPlatform } from "../scripts/local-platform.ts";

/** Client→server Postgres messages: the SQL of each Query ('Q') and Parse ('P'), and whether Terminate was sent. */
class StatementReader {
  terminated = false;
  #buf = Buffer.alloc(0);
  #startup = true;
  constructor(private readonly onSql: (sql: string) => void) {}
  push(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#startup) {
        if (this.#buf.length < 8) return;
        const len = this.#buf.readInt32BE(0);
        if (this.#buf.length < len) return;
        if (this.#buf.readInt32BE(4) >>> 16 === 3) this.#startup = false;
        this.#buf = this.#buf.subarray(len);
        continue;
      }
      if (this.#buf.length < 5) return;
      const type = String.fromCharCode(this.#buf[0] ?? 0);
      const len = this.#buf.readInt32BE(1);
      if (this.#buf.length < 1 + len) return;
      const body = this.#buf.subarray(5, 1 + len);
      if (type === "Q") this.onSql(body.toString("utf8").split("\0")[0] ?? "");
      if (type === "P") this.onSql(body.toString("utf8").split("\0")[1] ?? "");
      if (type === "X") this.terminated = true;
      this.#buf = this.#buf.subarray(1 + len);
    }
  }
}

const calls = Number(process.argv[2] ?? 1);
const backend = process.argv[3] === "postgres" ? "postgres" : "pglite";
const SCRIPT = ["book-appointment", "thanks-goodbye"];

type Traced = { at: number; statements: string[] };
const traced: Traced[] = [];
let epoch = Date.now();

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
wss.on("connection", (ws, req) => {
  const target = new URL(req.url ?? "/", "http://x").searchParams.get("address") ?? "";
  const [host = "", port = ""] = target.split(":");
  const tcp = net.connect(Number(port), host);
  const conn: Traced = { at: Date.now() - epoch, statements: [] };
  traced.push(conn);
  const reader = new StatementReader((sql) => {
    if (conn.statements.length < 6) conn.statements.push(sql.replace(/\s+/g, " ").slice(0, 90));
  });
  const early: Buffer[] = [];
  tcp.on("connect", () => {
    for (const c of early) tcp.write(c);
    early.length = 0;
  });
  ws.on("message", (data: Buffer) => {
    reader.push(data);
    if (tcp.connecting) early.push(data);
    else tcp.write(data);
    if (reader.terminated && !tcp.connecting) tcp.end();
  });
  tcp.on("data", (c) => ws.send(c));
  const close = () => {
    tcp.destroy();
    ws.close();
  };
  tcp.on("close", close);
  tcp.on("error", close);
  ws.on("close", close);
});
await new Promise((r) => wss.once("listening", r));
const proxy = `127.0.0.1:${(wss.address() as net.AddressInfo).port}`;

const platform = await LocalPlatform.start({
  nodeIds: ["node-bench-1"],
  backend,
  edgeVars: { DB_WS_PROXY: proxy },
});
try {
  const tenant = await platform.signUp("Spokes Bikes");
  const { number } = await platform.agentOnNumber(tenant.key, FRONT_DESK);
  const lines = await fixtureLines(SCRIPT);
  await new Promise((r) => setTimeout(r, 3_000));
  traced.length = 0;
  epoch = Date.now();
  for (let i = 0; i < calls; i++) {
    const callSid = newCallSid();
    await platform.scriptCaller(callSid, lines);
    const answered = await platform.placeCall(number, callSid);
    const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
    if (report.errors.length > 0) console.error("call errors", report.errors);
    await platform.completeCall(number, report);
  }
  // The tail after the last call: outbox flushes, the events and analysis consumers.
  await new Promise((r) => setTimeout(r, 15_000));
  for (const c of traced) console.log(String(c.at).padStart(7), c.statements.join(" | "));
  const byKind = new Map<string, number>();
  for (const c of traced) {
    const kind = kindOf(c.statements);
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  console.log(`\n${traced.length} connections for ${calls} call(s), ${backend}:`);
  for (const [kind, n] of [...byKind].sort((a, b) => b[1] - a[1])) console.log(String(n).padStart(5), kind);
} finally {
  await platform.close();
  wss.close();
}

/** A short name for a connection: the table of its first statement that names one. */
function kindOf(statements: string[]): string {
  const first = statements.find((s) => !/^(begin|commit|rollback|select 1)/i.test(s)) ?? statements[0] ?? "(none)";
  const verb = first.split(" ")[0]?.toLowerCase() ?? "";
  const table = /(?:from|into|update) "?([a-z_]+)"?/i.exec(first)?.[1] ?? "?";
  return `${verb} ${table}${statements.length > 1 ? ` (+${statements.length - 1})` : ""}`;
}
