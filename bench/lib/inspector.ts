// A small Chrome DevTools Protocol client for a V8 inspector (workerd's, through `wrangler dev --inspector-port`
// or Miniflare's `inspectorPort`, or a Node process's): heap usage, a forced GC, and heap snapshots written to a
// file, which is what the soak needs to tell a leak of ours from the runtime's own memory.
import { createWriteStream } from "node:fs";
import WebSocket from "ws";
import { z } from "zod";

const Targets = z.array(z.object({ id: z.string(), title: z.string().optional(), webSocketDebuggerUrl: z.string() }));

/** The target of the user's Worker among workerd's (Miniflare adds its own: "core:entry", "cache:0" …). */
export async function workerTarget(port: number): Promise<z.infer<typeof Targets>[number]> {
  const targets = await inspectorTargets(port);
  const target = targets.find((t) => t.id.startsWith("core:user:")) ?? targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  return target;
}

/** The inspector targets (one per Worker isolate) listed at http://HOST:PORT/json. */
export async function inspectorTargets(port: number): Promise<z.infer<typeof Targets>> {
  const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(5_000) });
  return Targets.parse(await res.json());
}

const Reply = z.object({
  id: z.number().optional(),
  method: z.string().optional(),
  params: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.object({ message: z.string() }).optional(),
});

export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const parsed = Reply.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) return;
      const m = parsed.data;
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error.message));
        else p?.resolve(m.result);
      } else if (m.method) {
        this.listeners.get(m.method)?.(m.params);
      }
    });
    ws.on("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("inspector connection closed"));
      this.pending.clear();
    });
  }

  static async connect(url: string): Promise<InspectorSession> {
    const ws = new WebSocket(url, { maxPayload: 1024 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new InspectorSession(ws);
  }

  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** V8's own count of the isolate's heap: used and total bytes. */
  async heapUsage(): Promise<{ usedBytes: number; totalBytes: number }> {
    const r = z.object({ usedSize: z.number(), totalSize: z.number() }).parse(await this.send("Runtime.getHeapUsage"));
    return { usedBytes: r.usedSize, totalBytes: r.totalSize };
  }

  async collectGarbage(): Promise<void> {
    await this.send("HeapProfiler.collectGarbage");
  }

  /** A full heap snapshot streamed to `file` (Chrome's .heapsnapshot format). V8 collects garbage first itself;
   * an explicit HeapProfiler.collectGarbage is never answered by workerd's own inspector, so none is sent. */
  async heapSnapshot(file: string): Promise<void> {
    const out = createWriteStream(file);
    this.listeners.set("HeapProfiler.addHeapSnapshotChunk", (params) => {
      out.write(z.object({ chunk: z.string() }).parse(params).chunk);
    });
    try {
      await this.send("HeapProfiler.enable");
      await this.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 300_000);
    } finally {
      this.listeners.delete("HeapProfiler.addHeapSnapshotChunk");
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
  }

  close(): void {
    this.ws.close();
  }
}

const MB = 1024 * 1024;

/** workerd's inspector as the soak reads it: the user Worker's heap (and snapshots), and the heaps of the other
 * isolates, reconnecting after a restart. */
export class WorkerdInspector {
  private session: InspectorSession | undefined;
  private others: { id: string; session: InspectorSession }[] | undefined;
  constructor(private readonly port: number) {}

  private async connect(): Promise<InspectorSession> {
    if (this.session) return this.session;
    const target = await workerTarget(this.port);
    this.session = await InspectorSession.connect(target.webSocketDebuggerUrl);
    return this.session;
  }

  async heapMb(): Promise<number | undefined> {
    try {
      return (await (await this.connect()).heapUsage()).usedBytes / MB;
    } catch {
      this.session?.close();
      this.session = undefined;
      return undefined;
    }
  }

  /** The V8 heap in use of each of workerd's other isolates, by inspector target: Miniflare's own Workers (its
   * entry Worker in front of every request, the queue broker, the cache …), which the edge Worker's target does
   * not count. Only workerd's own inspector lists them (Miniflare's API); wrangler dev's proxy shows the user's. */
  async simulatorHeapsMb(): Promise<Record<string, number>> {
    try {
      if (!this.others) {
        const targets = (await inspectorTargets(this.port)).filter((t) => !t.id.startsWith("core:user:"));
        this.others = await Promise.all(
          targets.map(async (t) => ({ id: t.id, session: await InspectorSession.connect(t.webSocketDebuggerUrl) })),
        );
      }
      const used = await Promise.all(
        this.others.map(async (o) => [o.id, (await o.session.heapUsage()).usedBytes / MB] as const),
      );
      return Object.fromEntries(used);
    } catch {
      for (const o of this.others ?? []) o.session.close();
      this.others = undefined;
      return {};
    }
  }

  async snapshot(file: string): Promise<void> {
    await (await this.connect()).heapSnapshot(file);
  }

  close(): void {
    this.session?.close();
    for (const o of this.others ?? []) o.session.close();
  }
}
