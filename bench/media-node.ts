// Media node benchmark: `tsx bench/media-node.ts` (or `benchMediaNode()` from the bench runner).
//
// The media node runs alone in one process (pinned to core 0 with taskset when there are two cores or
// more); the Deepgram and Bedrock emulators and the simulated Twilio callers run in other processes
// (on the other core). At each concurrency level every caller speaks a recorded line, hears the reply,
// and does it again. Figures are printed, never asserted:
//   - platform overhead per turn (time on the critical path not spent waiting on STT, LLM or TTS), p50/p99;
//   - outbound frame lateness p99 and how many frames left more than 5 ms late;
//   - calls per core with no late outbound frame: the largest level whose p99 lateness stayed within 5 ms;
//   - memory per call (node RSS growth at the level's peak, divided by its calls).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AgentRuntimeConfigSchema } from "../shared/agent-config.ts";
import { generateCallTokenKeyPair, importCallTokenSigner } from "../shared/call-token.ts";
import { compilePromptPrefix } from "../shared/prompt-prefix.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

export interface BenchMediaNodeOptions {
  /** Concurrent calls per level. Default [1, 100, 200, 500] (about a minute on two cores). */
  levels?: number[];
  /** Caller turns per call. Default 2. */
  turnsPerCall?: number;
  /** Pin the node to one core (taskset). Default true when available. */
  pin?: boolean;
  log?: (line: string) => void;
}

export interface MediaNodeLevelFigures {
  calls: number;
  connected: number;
  turns: number;
  timeouts: number;
  overheadP50Ms: number | null;
  overheadP99Ms: number | null;
  /** Caller's end of speech to first agent audio, as the node measured it. */
  voiceToVoiceP50Ms: number | null;
  /** Where the node's voice-to-voice went (p50): end of speech → STT final, LLM first token, TTS first byte. */
  sttP50Ms: number | null;
  llmFirstTokenP50Ms: number | null;
  ttsFirstByteP50Ms: number | null;
  /** The same, as the callers heard it (includes the network hop). */
  callerVoiceToVoiceP50Ms: number | null;
  framesSent: number;
  /** Upper bound of the histogram bucket holding the 99th percentile. */
  latenessP99Ms: number | null;
  framesLaterThan5Ms: number;
  memoryPerCallKiB: number | null;
  peakRssMiB: number;
  /** The node's own event-loop delay p99 and CPU share over the level: a starved node shows delay with CPU to spare. */
  eventLoopDelayP99Ms: number;
  nodeCpuPercent: number;
  /** Wall time the node was runnable but waiting for its core (other processes on it), Linux only. */
  nodeRunQueueWaitPercent: number | null;
  /** Wall time in garbage collection pauses, and the longest pause. */
  gcPercent: number | null;
  gcMaxPauseMs: number | null;
  /** How late the callers' own 20 ms clock ran (p99): when large, the load side ran out, not the node. */
  callersClockLatenessP99Ms: number | null;
  /** CPU share of one core used by the callers and by the emulators (they share the other core). */
  callersCpuPercent: number | null;
  emulatorsCpuPercent: number | null;
  errors: string[];
}

export interface MediaNodeFigures {
  node: string;
  pinned: boolean;
  cores: number;
  levels: MediaNodeLevelFigures[];
  /** Largest level whose frame-lateness p99 stayed within 5 ms on the node's one core. */
  callsPerCoreNoLateFrames: number | null;
  durationMs: number;
}

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
}

/** CPU time a child process has used (Linux /proc, clock ticks of 10 ms); NaN elsewhere. */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function tasksetAvailable(): boolean {
  return spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0;
}

function tsxProcess(
  script: string,
  opts: { core?: number; env?: NodeJS.ProcessEnv; ipc?: boolean; nodeFlags?: string[]; nice?: number },
): ChildProcess {
  const args = [...(opts.nodeFlags ?? []), "--import", "tsx", path.join(here, "media-node", script)];
  let [cmd, argv]: [string, string[]] =
    opts.core === undefined
      ? [process.execPath, args]
      : ["taskset", ["-c", String(opts.core), process.execPath, ...args]];
  if (opts.nice !== undefined) [cmd, argv] = ["nice", ["-n", String(opts.nice), cmd, ...argv]];
  return spawn(cmd, argv, {
    cwd: root,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "inherit", ...(opts.ipc ? (["ipc"] as const) : [])],
  });
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${type}" from child within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: T) => {
      if (msg.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(msg);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before "${type}"`)));
  });
}

async function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (d) => {
      buffer += d;
      const nl = buffer.indexOf("\n");
      if (nl >= 0) resolve(buffer.slice(0, nl));
    });
    child.once("exit", (code) => reject(new Error(`emulators exited (${code})`)));
  });
}

interface NodeStats {
  type: "stats";
  overhead: number[];
  firstAudio: number[];
  stages: { stt: number[]; llm: number[]; tts: number[] };
  turns: number;
  lateness: { buckets: number[]; counts: number[]; count: number };
  activeCalls: number;
  rss: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs?: number;
  gc?: { count: number; totalMs: number; maxMs: number; majorCount: number; percent: number };
  runQueueWaitPercent?: number;
  helperThreadsCpuPercent?: number;
  stalls?: unknown;
  cpuPercent: number;
  cpuSystemPercent?: number;
}

export async function benchMediaNode(opts: BenchMediaNodeOptions = {}): Promise<MediaNodeFigures> {
  const started = performance.now();
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const levels = opts.levels ?? [1, 100, 200, 500];
  const turnsPerCall = opts.turnsPerCall ?? 2;
  const cores = availableParallelism();
  const pinned = (opts.pin ?? true) && cores >= 2 && tasksetAvailable();
  const nodeCore = pinned ? 0 : undefined;
  const otherCore = pinned ? 1 : undefined;

  const keys = await generateCallTokenKeyPair();
  const signer = await importCallTokenSigner(keys.privateKey, keys.kid);
  const agent = AgentRuntimeConfigSchema.parse({
    tenantId: "ten_bench",
    agentId: "agt_bench",
    version: 1,
    systemPrompt: "You are the receptionist of a bike shop. Answer in one short sentence.",
    // BENCH_RECOGNIZER=nova-3 measures the other recogniser (the agent's default is Flux).
    ...(process.env.BENCH_RECOGNIZER ? { recognizer: process.env.BENCH_RECOGNIZER } : {}),
  });
  const prefix = await compilePromptPrefix(agent);
  const speech = await readFile(path.join(root, "test/fixtures/speech/opening-hours.ulaw"));

  const children: ChildProcess[] = [];
  try {
    const emulators = tsxProcess("emulators-process.ts", { core: otherCore });
    children.push(emulators);
    const urls = JSON.parse(await firstLine(emulators)) as { deepgram: string; bedrock: string };
    const node = tsxProcess("node-process.ts", {
      core: nodeCore,
      ipc: true,
      // BENCH_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the node process.
      nodeFlags: ["--expose-gc", ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [])],
      // BENCH_NODE_NICE=-10 stands in for a core of its own on a machine other work shares (needs root).
      ...(process.env.BENCH_NODE_NICE ? { nice: Number(process.env.BENCH_NODE_NICE) } : {}),
      env: {
        CALL_TOKEN_PUBLIC_KEYS: `${keys.kid}:${keys.publicKey}`,
        MEDIA_PORT: "0",
        MEDIA_REGION: "bench-1",
        MEDIA_MAX_CALLS: "5000",
        MEDIA_LOG_LEVEL: "error",
        DEEPGRAM_URL: urls.deepgram,
        BEDROCK_ENDPOINT: urls.bedrock,
        AWS_ACCESS_KEY_ID: "emulator",
        AWS_SECRET_ACCESS_KEY: "emulator",
        BENCH_AGENT: JSON.stringify(agent),
      },
    });
    children.push(node);
    // Nothing may block the node on a full pipe (e.g. --trace-gc in BENCH_NODE_FLAGS): its stdout is
    // drained, or written to BENCH_NODE_STDOUT when set.
    if (process.env.BENCH_NODE_STDOUT) node.stdout?.pipe(createWriteStream(process.env.BENCH_NODE_STDOUT));
    else node.stdout?.resume();
    const { url } = await nextMessage<{ type: "ready"; url: string }>(node, "ready");
    const callers = tsxProcess("callers-process.ts", { core: otherCore, ipc: true });
    children.push(callers);
    await nextMessage(callers, "ready");
    log(`media node ${url} (${pinned ? "pinned to core 0" : "not pinned"}), emulators and callers in other processes`);

    const figures: MediaNodeLevelFigures[] = [];
    for (const calls of levels) {
      node.send({ type: "reset" });
      const { rss: rssBefore } = await nextMessage<{ type: "reset-done"; rss: number }>(node, "reset-done");
      const tokens = await Promise.all(
        Array.from({ length: calls }, (_, i) =>
          signer.sign(
            {
              callId: `call_bench_${calls}_${i}`,
              tenantId: agent.tenantId,
              agentId: agent.agentId,
              agentVersion: agent.version,
              prefixHash: prefix.hash,
              region: "bench-1",
            },
            { ttlMs: 300_000 },
          ),
        ),
      );
      let peakRss = rssBefore;
      let peakCalls = 0;
      const sampler = setInterval(() => node.send({ type: "stats" }), 1_000);
      const loadSideAt = {
        at: performance.now(),
        callers: processCpuMs(callers.pid),
        emulators: processCpuMs(emulators.pid),
      };
      // BENCH_TIMELINE=1: per second of the level, frames sent and frames > 5 ms late, GC time, active calls.
      const timeline: string[] = [];
      let previous: { late: number; count: number; gcMs: number } | undefined;
      const onStats = (msg: NodeStats) => {
        if (msg.type !== "stats") return;
        if (msg.rss > peakRss) peakRss = msg.rss;
        if (msg.activeCalls > peakCalls) peakCalls = msg.activeCalls;
        if (process.env.BENCH_TIMELINE === "1") {
          const five = msg.lateness.buckets.indexOf(5);
          const current = {
            late: msg.lateness.count - (msg.lateness.counts[five] ?? 0),
            count: msg.lateness.count,
            gcMs: msg.gc?.totalMs ?? 0,
          };
          if (previous)
            timeline.push(
              `${current.late - previous.late}/${current.count - previous.count}` +
                ` gc${Math.round(current.gcMs - previous.gcMs)} c${msg.activeCalls}`,
            );
          previous = current;
        }
      };
      node.on("message", onStats);
      const rampMs = Math.min(5_000, calls * 10);
      callers.send({
        type: "run",
        url: `${url.replace(/^http/, "ws")}/v1/telephony/twilio`,
        tokens,
        turns: turnsPerCall,
        rampMs,
        speech: speech.toString("base64"),
      });
      const result = await nextMessage<{
        type: "done";
        connected: number;
        timeouts: number;
        voiceToVoiceP50Ms: number | null;
        clockLatenessP99Ms?: number | null;
        errors: string[];
      }>(callers, "done", 180_000);
      clearInterval(sampler);
      const loadSideMs = performance.now() - loadSideAt.at;
      const loadSideCpu = (now: number, at: number) => Math.round(((now - at) / loadSideMs) * 100);
      const callersCpu = loadSideCpu(processCpuMs(callers.pid), loadSideAt.callers);
      const emulatorsCpu = loadSideCpu(processCpuMs(emulators.pid), loadSideAt.emulators);
      await new Promise((r) => setTimeout(r, 300));
      node.send({ type: "stats" });
      const stats = await nextMessage<NodeStats>(node, "stats");
      node.off("message", onStats);
      const { buckets, counts, count } = stats.lateness;
      const p99Index = counts.findIndex((c) => c >= 0.99 * count);
      const fiveIndex = buckets.indexOf(5);
      const level: MediaNodeLevelFigures = {
        calls,
        connected: result.connected,
        turns: stats.turns,
        timeouts: result.timeouts,
        overheadP50Ms: percentile(stats.overhead, 0.5),
        overheadP99Ms: percentile(stats.overhead, 0.99),
        voiceToVoiceP50Ms: percentile(stats.firstAudio, 0.5),
        sttP50Ms: percentile(stats.stages.stt, 0.5),
        llmFirstTokenP50Ms: percentile(stats.stages.llm, 0.5),
        ttsFirstByteP50Ms: percentile(stats.stages.tts, 0.5),
        callerVoiceToVoiceP50Ms: result.voiceToVoiceP50Ms === null ? null : Math.round(result.voiceToVoiceP50Ms),
        framesSent: count,
        latenessP99Ms: count === 0 ? null : p99Index >= 0 ? buckets[p99Index]! : Number.POSITIVE_INFINITY,
        framesLaterThan5Ms: count - (counts[fiveIndex] ?? 0),
        memoryPerCallKiB: peakCalls > 0 ? Math.round((peakRss - rssBefore) / peakCalls / 1024) : null,
        peakRssMiB: Math.round(peakRss / 1024 / 1024),
        eventLoopDelayP99Ms: Math.round(stats.loopDelayP99Ms * 10) / 10,
        nodeCpuPercent: stats.cpuPercent,
        nodeRunQueueWaitPercent: Number.isFinite(stats.runQueueWaitPercent) ? stats.runQueueWaitPercent! : null,
        gcPercent: stats.gc?.percent ?? null,
        gcMaxPauseMs: stats.gc ? Math.round(stats.gc.maxMs * 10) / 10 : null,
        callersClockLatenessP99Ms:
          result.clockLatenessP99Ms == null ? null : Math.round(result.clockLatenessP99Ms * 10) / 10,
        callersCpuPercent: Number.isFinite(callersCpu) ? callersCpu : null,
        emulatorsCpuPercent: Number.isFinite(emulatorsCpu) ? emulatorsCpu : null,
        errors: result.errors,
      };
      figures.push(level);
      log(
        `${String(calls).padStart(4)} calls: overhead p50 ${level.overheadP50Ms} ms p99 ${level.overheadP99Ms} ms, ` +
          `frame lateness p99 ≤ ${level.latenessP99Ms} ms (${level.framesLaterThan5Ms}/${count} frames > 5 ms), ` +
          `${level.memoryPerCallKiB} KiB/call, node CPU ${level.nodeCpuPercent}% (kernel ${stats.cpuSystemPercent}%), loop delay p99 ${level.eventLoopDelayP99Ms} ms, ` +
          `run-queue wait ${level.nodeRunQueueWaitPercent}% (own helper threads ${stats.helperThreadsCpuPercent}% CPU), GC ${level.gcPercent}% (max pause ${level.gcMaxPauseMs} ms), ` +
          `callers' clock p99 ${level.callersClockLatenessP99Ms} ms (callers ${level.callersCpuPercent}% CPU, emulators ${level.emulatorsCpuPercent}%), ` +
          `voice-to-voice p50 ${level.voiceToVoiceP50Ms} ms (stt ${level.sttP50Ms} · llm ${level.llmFirstTokenP50Ms} · tts ${level.ttsFirstByteP50Ms}), ` +
          `${level.turns} turns, ${level.timeouts} timeouts` +
          (level.errors.length ? `, errors: ${level.errors.join("; ")}` : ""),
      );
      if (timeline.length) log(`      per second (late/frames gcMs calls): ${timeline.join(" | ")}`);
      if (stats.gc)
        log(`      gc: ${JSON.stringify(stats.gc, (_k, v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))}`);
      if (stats.stalls) log(`      stalls (BENCH_STALLS=1): ${JSON.stringify(stats.stalls)}`);
    }
    const ok = figures.filter((f) => f.latenessP99Ms !== null && f.latenessP99Ms <= 5 && f.connected === f.calls);
    return {
      node: process.version,
      pinned,
      cores,
      levels: figures,
      callsPerCoreNoLateFrames: ok.length ? Math.max(...ok.map((f) => f.calls)) : null,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    for (const child of children) child.kill("SIGTERM");
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const levels = process.env.BENCH_LEVELS?.split(",").map(Number);
  const figures = await benchMediaNode(levels ? { levels } : {});
  console.log(JSON.stringify(figures, null, 2));
  process.exit(0);
}
