// Where a live call's memory goes: N calls built in-process as the node builds them (Call, with the real
// Deepgram clients against the emulators in a child process), each greeted and fed caller audio in 20 ms frames
// on the node's frame clock, then a V8 heap snapshot. The snapshot's objects are summed by constructor and
// compared with the same run at zero calls, per call, in KiB; process.memoryUsage() gives the off-heap part.
//
//   npx tsx --expose-gc bench/media-node/heap-per-call.ts [calls=100] [--nova] [--feed=ms] [--keep]
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { writeHeapSnapshot } from "node:v8";
import { createMediaMetrics } from "../../media-nodes/src/metrics/media-metrics.ts";
import { AudioCache } from "../../media-nodes/src/pipeline/audio-cache.ts";
import { Call, type CallLink } from "../../media-nodes/src/pipeline/call.ts";
import { FrameClock } from "../../media-nodes/src/pipeline/frame-clock.ts";
import { deepgramFluxStt } from "../../media-nodes/src/providers/deepgram/flux-stt.ts";
import { deepgramRecognizers } from "../../media-nodes/src/providers/deepgram/recognizers.ts";
import { deepgramStt } from "../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../media-nodes/src/providers/deepgram/tts.ts";
import { FakeLlm } from "../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback, ttsWithFallback } from "../../media-nodes/src/providers/fallback.ts";
import { silentLogger } from "../../media-nodes/src/server/logger.ts";
import { AgentRuntimeConfigSchema } from "../../shared/agent-config.ts";
import type { CallTokenClaims } from "../../shared/call-token.ts";
import { compilePromptPrefix } from "../../shared/prompt-prefix.ts";

const N = Number(process.argv[2] ?? 100);
/** How long every call hears caller silence before the snapshot (the agent greets meanwhile). */
const FEED_MS = Number(process.argv.find((a) => a.startsWith("--feed="))?.slice(7) ?? 3_000);
const PORT = 31_000 + Math.floor(Math.random() * 900);

async function startEmulators(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "emulators/cli.ts"], {
    env: { ...process.env, DEEPGRAM_EMULATOR_PORT: String(PORT), BEDROCK_EMULATOR_PORT: String(PORT + 1) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("Bedrock")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`emulators exited ${code}`)));
  });
  return child;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Backing stores by size, in the last snapshot summarized (which buffers a call holds). */
let bufferSizes = new Map<number, number>();

/** Self size of every object in a snapshot, by constructor (or by node type when it has none). */
function summarize(path: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  if (process.argv.includes("--keep") && path.includes("after")) console.log(`snapshot kept: ${path}`);
  else unlinkSync(path);
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const out = new Map<string, { count: number; bytes: number }>();
  bufferSizes = new Map();
  const nodes: number[] = snap.nodes;
  // Arrays and closures say little by themselves: they are named by what holds them (first retainer).
  const edgeFields: string[] = snap.snapshot.meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const iEdgeCount = fields.indexOf("edge_count");
  const iTo = edgeFields.indexOf("to_node");
  const iEdgeType = edgeFields.indexOf("type");
  const iEdgeName = edgeFields.indexOf("name_or_index");
  const edgeTypes: string[] = snap.snapshot.meta.edge_types[0];
  const via = new Map<number, string>();
  const edges: number[] = snap.edges;
  const holder = new Map<number, number>();
  for (let i = 0, e = 0; i < nodes.length; i += width) {
    const count = nodes[i + iEdgeCount]!;
    for (let k = 0; k < count; k++, e += edgeWidth) {
      const to = edges[e + iTo]!;
      if (!holder.has(to)) {
        holder.set(to, i);
        const et = edgeTypes[edges[e + iEdgeType]!]!;
        const n = edges[e + iEdgeName]!;
        via.set(to, et === "element" || et === "hidden" ? `${et}[${n}]` : String(snap.strings[n]));
      }
    }
  }
  const nameOf = (i: number) => {
    const type = types[nodes[i + iType]!]!;
    return type === "object" || type === "native" ? (snap.strings[nodes[i + iName]!] as string) : `(${type})`;
  };
  for (let i = 0; i < nodes.length; i += width) {
    let name = nameOf(i);
    if (name === "(array)" || name === "(closure)") {
      const h = holder.get(i);
      const held = h === undefined ? "?" : nameOf(h);
      const fn =
        h !== undefined && held === "(closure)" ? ` ${String(snap.strings[nodes[h + iName]!]) || "anonymous"}` : "";
      name = `${name} held by ${held}${fn} via ${via.get(i)}`;
      if (h !== undefined && (held === "Map" || held === "(closure)")) {
        const h2 = holder.get(h);
        const h3 = h2 === undefined ? undefined : holder.get(h2);
        name += ` <- ${h2 === undefined ? "?" : nameOf(h2)} via ${via.get(h)} <- ${h3 === undefined ? "?" : nameOf(h3)} via ${h2 === undefined ? "" : via.get(h2)}`;
      }
    }
    if (name === "system / JSArrayBufferData") {
      const size = nodes[i + iSize]!;
      bufferSizes.set(size, (bufferSizes.get(size) ?? 0) + 1);
    }
    const e = out.get(name) ?? { count: 0, bytes: 0 };
    e.count += 1;
    e.bytes += nodes[i + iSize]!;
    out.set(name, e);
  }
  return out;
}

const nullLink: CallLink = {
  closed: false,
  sendFrame: () => "sent",
  sendMarks: () => {},
  bufferedAmount: () => 0,
  sendClear: () => {},
  sendNotice: () => {},
  end: () => {},
};

async function main(): Promise<void> {
  const emulators = await startEmulators();
  const url = `http://127.0.0.1:${PORT}`;
  const agent = AgentRuntimeConfigSchema.parse({
    tenantId: "ten_mem",
    agentId: "agt_mem",
    version: 1,
    systemPrompt: "You are a helpful receptionist for a bike shop.",
    firstMessage: "Thanks for calling Spokes bike shop, how can I help?",
    ...(process.argv.includes("--nova") ? { recognizer: "nova-3" } : {}),
  });
  const prefix = await compilePromptPrefix(agent);
  const metrics = createMediaMetrics({ activeCalls: () => 0 });
  const clock = new FrameClock();
  const audioCache = new AudioCache(silentLogger);
  // As the node opens them: the agent's recogniser (Flux by default; `--nova` for Nova-3).
  const dg = { apiKey: "emulator", baseUrl: url };
  const stt = deepgramRecognizers({ flux: deepgramFluxStt(dg), nova: deepgramStt(dg) });
  const tts = ttsWithFallback(deepgramTts({ apiKey: "emulator", baseUrl: url }), {
    fallbackVoice: agent.fallbackVoice,
  });
  const llm = llmWithFallback(new FakeLlm([]));
  const sink = { publish: () => {}, flush: async () => {} };
  const silence = new Uint8Array(160).fill(0xff);
  const calls: Call[] = [];
  let seq = 0;
  const place = async (n: number) => {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const call = new Call(
        {
          claims: { callId: `call_mem_${seq++}`, tenantId: agent.tenantId, region: "local" } as CallTokenClaims,
          agent,
          prefix,
          transport: "twilio",
          link: nullLink,
          carrier: {},
        },
        {
          stt,
          llm,
          tts,
          toolRunner: { run: async () => ({ outcomes: [], actions: [] }) },
          sink,
          metrics,
          clock,
          audioCache,
          logger: silentLogger,
          nodeId: "mem",
          deadAirMs: 2_000,
          lines: { filler: "One moment.", apology: "Sorry.", drainGoodbye: "Goodbye." },
        },
      );
      calls.push(call);
      batch.push(call.start());
    }
    await Promise.all(batch);
  };
  // Caller audio for every live call, 50 frames a second, as a carrier sends it.
  const feeder = setInterval(() => {
    for (const c of calls) c.onAudio(silence);
  }, 20);
  const measure = async (label: string) => {
    await new Promise((r) => setTimeout(r, FEED_MS));
    await settle();
    const mem = process.memoryUsage();
    const path = writeHeapSnapshot(`/tmp/heap-${process.pid}-${label}.heapsnapshot`);
    return { mem, heap: summarize(path) };
  };
  // Warm-up: the node-wide pieces (clients, caches, compiled code) exist before the baseline.
  await place(5);
  // The baseline's summary waits on disk, so it is not itself in the second snapshot (taken in a function of its
  // own: a block in this async function would still hold it in the generator's registers).
  const beforePath = `/tmp/heap-${process.pid}-before.json`;
  const saveBaseline = async () => {
    const b = await measure("before");
    writeFileSync(beforePath, JSON.stringify({ mem: b.mem, heap: [...b.heap.entries()] }));
  };
  await saveBaseline();
  const t0 = performance.now();
  await place(N);
  const after = await measure("after");
  const saved = JSON.parse(readFileSync(beforePath, "utf8"));
  unlinkSync(beforePath);
  const before = {
    mem: saved.mem as NodeJS.MemoryUsage,
    heap: new Map<string, { count: number; bytes: number }>(saved.heap),
  };
  const per = (a: number, b: number) => (b - a) / N / 1024;
  const rows = [...after.heap.entries()]
    .map(([name, e]) => {
      const b = before.heap.get(name) ?? { count: 0, bytes: 0 };
      return { name, count: (e.count - b.count) / N, kib: per(b.bytes, e.bytes) };
    })
    .filter((r) => Math.abs(r.kib) >= 0.25)
    .sort((x, y) => y.kib - x.kib);
  const total = rows.reduce((s, r) => s + r.kib, 0);
  console.log(`${N} calls placed in ${Math.round(performance.now() - t0)} ms`);
  console.log(
    `per call: heapUsed ${per(before.mem.heapUsed, after.mem.heapUsed).toFixed(1)} KiB, ` +
      `arrayBuffers ${per(before.mem.arrayBuffers, after.mem.arrayBuffers).toFixed(1)} KiB, ` +
      `external ${per(before.mem.external, after.mem.external).toFixed(1)} KiB, rss ${per(before.mem.rss, after.mem.rss).toFixed(1)} KiB`,
  );
  console.log(`heap snapshot objects, per call (${total.toFixed(1)} KiB in the rows below):`);
  for (const r of rows.slice(0, 40))
    console.log(`  ${r.kib.toFixed(2).padStart(7)} KiB  ${r.count.toFixed(1).padStart(6)}×  ${r.name}`);
  console.log("array buffer backing stores held, by size (bytes × count, all calls):");
  for (const [size, count] of [...bufferSizes.entries()].sort((a, b) => b[0] * b[1] - a[0] * a[1]).slice(0, 12)) {
    console.log(`  ${String(size).padStart(8)} × ${count}`);
  }
  clearInterval(feeder);
  for (const c of calls) c.end("caller-hung-up", "done");
  clock.stop();
  metrics.close();
  emulators.kill();
  setTimeout(() => process.exit(0), 200).unref();
}

await main();
