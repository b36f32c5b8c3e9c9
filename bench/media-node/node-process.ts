// Benchmark helper process: the media node alone (the parent pins it to one core), with its real
// provider clients pointed at the emulators. It answers the parent over IPC with exact per-turn figures
// (platform overhead, voice-to-voice) and the frame-lateness histogram.
import { readdirSync, readFileSync } from "node:fs";
import { constants, monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";
import { InMemoryAgentDirectory } from "../../media-nodes/src/admission/agent-directory.ts";
import { loadConfig } from "../../media-nodes/src/config.ts";
import { runMediaNode } from "../../media-nodes/src/server/run.ts";
import type { SessionSink } from "../../media-nodes/src/session-sink/types.ts";
import { AgentRuntimeConfigSchema } from "../../shared/agent-config.ts";
import type { SessionEvent } from "../../shared/session-events.ts";

const agent = AgentRuntimeConfigSchema.parse(JSON.parse(process.env.BENCH_AGENT ?? "{}"));
const overhead: number[] = [];
const firstAudio: number[] = [];
// The providers' stages, as the node saw them: a slow turn under load is explained by one of these or by overhead.
const stages = { stt: [] as number[], llm: [] as number[], tts: [] as number[] };
let turns = 0;
let ended = 0;
const endReasons: Record<string, number> = {};
const sink: SessionSink = {
  publish(event: SessionEvent) {
    if (event.type === "turn" && event.index > 0) {
      turns += 1;
      if (event.waterfall.platformOverheadMs !== undefined) overhead.push(event.waterfall.platformOverheadMs);
      if (event.waterfall.firstAudioMs !== undefined) firstAudio.push(event.waterfall.firstAudioMs);
      if (event.waterfall.sttMs !== undefined) stages.stt.push(event.waterfall.sttMs);
      if (event.waterfall.llmFirstTokenMs !== undefined) stages.llm.push(event.waterfall.llmFirstTokenMs);
      if (event.waterfall.ttsFirstByteMs !== undefined) stages.tts.push(event.waterfall.ttsFirstByteMs);
    } else if (event.type === "call.ended") {
      ended += 1;
      endReasons[event.reason] = (endReasons[event.reason] ?? 0) + 1;
    }
  },
  async flush() {},
};
const config = loadConfig(process.env);
const node = await runMediaNode(config, { agents: new InMemoryAgentDirectory([agent]), sink });
let baseline = { count: 0, counts: [] as number[] };
// Event-loop delay and CPU share tell a busy node from a starved one (other processes on its core).
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
let cpuAt = process.cpuUsage();
let wallAt = performance.now();
// Garbage collection, by kind: pauses that stop the loop count against every call's next frame.
const gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMs: 0, over5ms: 0, over5msTotalMs: 0, majorMaxMs: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count += 1;
    gc.totalMs += entry.duration;
    if (entry.duration > gc.maxMs) gc.maxMs = entry.duration;
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.majorCount += 1;
      gc.majorMs += entry.duration;
      if (entry.duration > gc.majorMaxMs) gc.majorMaxMs = entry.duration;
    }
    if (entry.duration > 5) {
      gc.over5ms += 1;
      gc.over5msTotalMs += entry.duration;
    }
  }
});
gcObserver.observe({ entryTypes: ["gc"] });
/**
 * Time this process was runnable but waiting for its core (Linux /proc/self/schedstat, ns): the machine's
 * share of the event-loop delay, as opposed to the node's own work.
 */
function runQueueWaitMs(): number {
  try {
    const [, waitNs] = readFileSync("/proc/self/schedstat", "utf8").split(" ");
    return Number(waitNs) / 1e6;
  } catch {
    return Number.NaN;
  }
}
let runQueueAt = runQueueWaitMs();
/** CPU of the node's other threads (V8 GC helpers, libuv pool, loader), which share its pinned core. */
function helperThreadsCpuMs(): number {
  try {
    let total = 0;
    for (const tid of readdirSync("/proc/self/task")) {
      if (tid === String(process.pid)) continue;
      const [cpuNs] = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ");
      total += Number(cpuNs) / 1e6;
    }
    return total;
  } catch {
    return Number.NaN;
  }
}
let helpersAt = helperThreadsCpuMs();

/**
 * BENCH_STALLS=1: attributes each event-loop stall (a 2 ms timer firing more than 8 ms late) to the main
 * thread's own CPU time, its wait for the core (run queue), and GC pauses inside the gap. Costs ~1% CPU.
 */
interface Stall {
  at: number;
  gapMs: number;
  cpuMs: number;
  waitMs: number;
  gcMs: number;
}
const stalls: Stall[] = [];
const gcPauses: { start: number; end: number }[] = [];
function mainThreadSchedMs(): [number, number] {
  const [cpuNs, waitNs] = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
  return [Number(cpuNs) / 1e6, Number(waitNs) / 1e6];
}
if (process.env.BENCH_STALLS === "1") {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, end: e.startTime + e.duration });
    if (gcPauses.length > 4096) gcPauses.splice(0, 2048);
  }).observe({ entryTypes: ["gc"] });
  let last = performance.now();
  let [lastCpu, lastWait] = mainThreadSchedMs();
  setInterval(() => {
    const now = performance.now();
    const [cpu, wait] = mainThreadSchedMs();
    const gapMs = now - last;
    if (gapMs > 10) {
      let gcMs = 0;
      for (const p of gcPauses) gcMs += Math.max(0, Math.min(p.end, now) - Math.max(p.start, last));
      stalls.push({ at: now, gapMs, cpuMs: cpu - lastCpu, waitMs: wait - lastWait, gcMs });
    }
    last = now;
    lastCpu = cpu;
    lastWait = wait;
  }, 2).unref();
}
function stallSummary() {
  const sum = (k: keyof Stall) => Math.round(stalls.reduce((a, s) => a + s[k], 0));
  return {
    count: stalls.length,
    gapMs: sum("gapMs"),
    cpuMs: sum("cpuMs"),
    waitMs: sum("waitMs"),
    gcMs: sum("gcMs"),
    worst: [...stalls]
      .sort((a, b) => b.gapMs - a.gapMs)
      .slice(0, 8)
      .map((s) => ({
        gap: Math.round(s.gapMs),
        cpu: Math.round(s.cpuMs),
        wait: Math.round(s.waitMs),
        gc: Math.round(s.gcMs),
      })),
  };
}

function latenessCounts(): { count: number; counts: number[] } {
  // Parse our own exposition: the bench reads what an operator's Prometheus would.
  const text = node.metrics.registry.render();
  const counts: number[] = [];
  let count = 0;
  for (const line of text.split("\n")) {
    const m = /^media_outbound_frame_lateness_ms_bucket\{le="([^"]+)"\} (\d+)/.exec(line);
    if (m) {
      if (m[1] === "+Inf") count = Number(m[2]);
      else counts.push(Number(m[2]));
    }
  }
  return { count, counts };
}

/**
 * BENCH_ALLOC_PROFILE=<dir>: samples allocations (including objects already collected) during each level
 * and writes a .heapprofile per level, to find what fills the young generation.
 */
const allocDir = process.env.BENCH_ALLOC_PROFILE;
const inspector = allocDir ? new (await import("node:inspector")).Session() : undefined;
inspector?.connect();
let allocLevel = 0;
function inspectorPost(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    inspector?.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
  );
}
async function restartAllocSampling(): Promise<void> {
  if (!inspector || !allocDir) return;
  if (allocLevel > 0) {
    const { profile } = (await inspectorPost("HeapProfiler.stopSampling")) as { profile: unknown };
    const { writeFileSync } = await import("node:fs");
    writeFileSync(`${allocDir}/level-${allocLevel}.heapprofile`, JSON.stringify(profile));
  }
  allocLevel += 1;
  await inspectorPost("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
process.on("SIGUSR2", () => void restartAllocSampling());

process.on("message", (msg: { type: string }) => {
  if (msg.type === "reset") {
    void restartAllocSampling();
    overhead.length = 0;
    firstAudio.length = 0;
    for (const list of Object.values(stages)) list.length = 0;
    turns = 0;
    ended = 0;
    for (const k of Object.keys(endReasons)) delete endReasons[k];
    baseline = latenessCounts();
    global.gc?.();
    // GC entries arrive asynchronously: let the forced collection's entry land before zeroing.
    setTimeout(() => {
      loopDelay.reset();
      gc.count =
        gc.totalMs =
        gc.maxMs =
        gc.majorCount =
        gc.majorMs =
        gc.over5ms =
        gc.over5msTotalMs =
        gc.majorMaxMs =
          0;
      runQueueAt = runQueueWaitMs();
      helpersAt = helperThreadsCpuMs();
      stalls.length = 0;
      cpuAt = process.cpuUsage();
      wallAt = performance.now();
      process.send?.({ type: "reset-done", rss: process.memoryUsage.rss() });
    }, 50);
    return;
  }
  if (msg.type === "stats") {
    const now = latenessCounts();
    const buckets = node.metrics.frameLateness.buckets;
    process.send?.({
      type: "stats",
      at: performance.now(),
      overhead: [...overhead],
      firstAudio: [...firstAudio],
      stages: { stt: [...stages.stt], llm: [...stages.llm], tts: [...stages.tts] },
      turns,
      ended,
      endReasons: { ...endReasons },
      lateness: {
        buckets,
        counts: now.counts.map((c, i) => c - (baseline.counts[i] ?? 0)),
        count: now.count - baseline.count,
      },
      activeCalls: node.stats().activeCalls,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      ...(process.env.BENCH_STALLS === "1" ? { stalls: stallSummary() } : {}),
      gc: { ...gc, percent: Math.round((gc.totalMs / (performance.now() - wallAt)) * 1000) / 10 },
      helperThreadsCpuPercent:
        Math.round(((helperThreadsCpuMs() - helpersAt) / (performance.now() - wallAt)) * 1000) / 10,
      runQueueWaitPercent: Math.round(((runQueueWaitMs() - runQueueAt) / (performance.now() - wallAt)) * 1000) / 10,
      cpuPercent: (() => {
        const used = process.cpuUsage(cpuAt);
        return Math.round(((used.user + used.system) / 1000 / (performance.now() - wallAt)) * 100);
      })(),
      /** Kernel share of the node's CPU: socket reads and writes (one or more per frame per call). */
      cpuSystemPercent: (() => {
        const used = process.cpuUsage(cpuAt);
        return Math.round((used.system / 1000 / (performance.now() - wallAt)) * 100);
      })(),
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
    });
  }
});
process.send?.({ type: "ready", url: node.url });
process.on("SIGTERM", () => void restartAllocSampling().finally(() => node.close().finally(() => process.exit(0))));
