// Benchmark helper process: the media node alone (the parent pins it to one core), with its real
// provider clients pointed at the emulators. It answers the parent over IPC with exact per-turn figures
// (platform overhead, voice-to-voice) and the frame-lateness histogram.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { InMemoryAgentDirectory } from "../../media-nodes/src/admission/agent-directory.ts";
import { loadConfig } from "../../media-nodes/src/config.ts";
import { runMediaNode } from "../../media-nodes/src/server/run.ts";
import type { SessionSink } from "../../media-nodes/src/session-sink/types.ts";
import { AgentRuntimeConfigSchema } from "../../shared/agent-config.ts";
import type { SessionEvent } from "../../shared/session-events.ts";

const agent = AgentRuntimeConfigSchema.parse(JSON.parse(process.env.BENCH_AGENT ?? "{}"));
const overhead: number[] = [];
const firstAudio: number[] = [];
let turns = 0;
let ended = 0;
const endReasons: Record<string, number> = {};
const sink: SessionSink = {
  publish(event: SessionEvent) {
    if (event.type === "turn" && event.index > 0) {
      turns += 1;
      if (event.waterfall.platformOverheadMs !== undefined) overhead.push(event.waterfall.platformOverheadMs);
      if (event.waterfall.firstAudioMs !== undefined) firstAudio.push(event.waterfall.firstAudioMs);
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

process.on("message", (msg: { type: string }) => {
  if (msg.type === "reset") {
    overhead.length = 0;
    firstAudio.length = 0;
    turns = 0;
    ended = 0;
    for (const k of Object.keys(endReasons)) delete endReasons[k];
    baseline = latenessCounts();
    global.gc?.();
    loopDelay.reset();
    cpuAt = process.cpuUsage();
    wallAt = performance.now();
    process.send?.({ type: "reset-done", rss: process.memoryUsage.rss() });
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
      cpuPercent: (() => {
        const used = process.cpuUsage(cpuAt);
        return Math.round(((used.user + used.system) / 1000 / (performance.now() - wallAt)) * 100);
      })(),
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
    });
  }
});
process.send?.({ type: "ready", url: node.url });
process.on("SIGTERM", () => void node.close().finally(() => process.exit(0)));
