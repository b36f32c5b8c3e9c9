// Capacity, the same way for both systems: the system under test alone on one core, the emulators and a
// process of lean callers (load-callers.ts) on the other; at each level N calls ramp in, each says a line,
// hears the whole reply and hangs up. Per level: what the callers heard (reply latency, gaps mid-reply),
// what the system spent (CPU, resident memory, from /proc), and how late it sent (the media node's own
// outbound-frame lateness histogram; for the baseline, which has no pacer, its event-loop delay: the most a
// message it sends can be held up by the process itself).
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { RelayStats } from "../baseline/ws-relay.ts";
import type { LoadCallersResult } from "./load-callers.ts";
import { hasTaskset, procCpuMs, procRssBytes, REPO_ROOT } from "./proc.ts";
import type { BaselineTarget, MediaNodeTarget, VoiceTarget } from "./stack.ts";
import { percentile, ratio, round, roundOrNull, sleep } from "./stats.ts";

/** The outbound lateness budget a sustained level must keep at p99. */
export const LATENESS_BUDGET_MS = 5;
export const CAPACITY_LINE = "opening-hours";
/** monitorEventLoopDelay resolution the media node's gauge uses (media-nodes/src/metrics/media-metrics.ts). */
const NODE_LOOP_RESOLUTION_MS = 10;

export interface CapacityOptions {
  levels: number[];
  turnsPerCall: number;
  /** Core for the callers process (null: unpinned). */
  callersCpu: number | null;
  /** Stop a system's ramp at its first level where callers noticed (a call refused, a reply missing, a gap). */
  stopAtFirstFailure?: boolean;
  /** An unmeasured level first, so both systems are measured warm (JIT, sockets, caches). Default 5 calls. */
  warmupCalls?: number;
  log?: (line: string) => void;
}

export interface CapacityLevel {
  calls: number;
  connected: number;
  timeouts: number;
  repliesHeard: number;
  /** Caller-measured: end of line → first agent audio received. */
  replyLatencyP50Ms: number | null;
  replyLatencyP99Ms: number | null;
  playedFrames: number;
  /** Ticks where a caller's 60 ms jitter buffer ran dry mid-reply. */
  gapFrames: number;
  callsWithGaps: number;
  /** System under test, averaged over the level: percent of one core. */
  cpuPercent: number | null;
  cpuPercentPerCall: number | null;
  /** Resident memory of the idle process, after the warm-up and before the first level. */
  rssIdleMiB: number | null;
  rssPeakMiB: number | null;
  memoryPerCallKiB: number | null;
  eventLoopDelayP99Ms: number | null;
  /** Media node: outbound frame lateness p99 (histogram bucket bound). Baseline: event-loop delay p99. */
  sendLatenessP99Ms: number | null;
  sendLatenessSource: string;
  /** Media node only: frames sent more than 5 ms late. */
  framesLaterThan5Ms: number | null;
  framesSent: number | null;
  /** The callers' own clock lateness p99: large values mean the load generator, not the system, was the limit. */
  loadGeneratorLatenessP99Ms: number;
  durationS: number;
  /** Every caller was connected, answered and heard no gap. */
  served: boolean;
  /** Served, and the system's send lateness p99 stayed within the budget. */
  sustained: boolean;
  /** 2 when this is the second try of a level whose first try was served but not sustained. */
  attempt: 1 | 2;
  notSustainedBecause: string[];
  errors: string[];
}

export interface CapacitySystem {
  system: string;
  command: string;
  levels: CapacityLevel[];
  /** Largest sustained level (one process on one core), null when none was. */
  callsPerCore: number | null;
  /** Largest level every caller was served without an audible problem, whatever the send lateness. */
  callsPerCoreServed: number | null;
  /**
   * Resident memory per additional call: the least-squares slope of each level's peak resident memory against its
   * calls, over every level run (one level alone: its growth over the idle process ÷ calls). A slope over several
   * levels is steadier than any single level, where V8's stepwise heap growth dominates.
   */
  memoryPerCallKiB: number | null;
  /** CPU per call at the largest level served (else the largest run). */
  cpuPercentPerCall: number | null;
  /** 100 % of a core ÷ CPU per call at that level: where CPU alone would run out (an estimate). */
  cpuBoundCallsEstimate: number | null;
  /** Why the ramp ended. */
  limitedBy: string;
}

export interface CapacityFigures {
  workload: string;
  criterion: string;
  levels: number[];
  mediaNode: CapacitySystem;
  baseline: CapacitySystem;
  /** Media node ÷ baseline. */
  /** The level CPU per call is compared at, and whether both systems served it. */
  comparedAtCalls: number | null;
  comparedAtServed: boolean;
  ratios: {
    callsPerCore: number | null;
    callsPerCoreServed: number | null;
    memoryPerCall: number | null;
    cpuPerCall: number | null;
  };
}

interface Histogram {
  bounds: number[];
  cumulative: number[];
  count: number;
}

function parseMetrics(text: string): { lateness: Histogram; loopP99: number | null } {
  const bounds: number[] = [];
  const cumulative: number[] = [];
  let count = 0;
  let loopP99: number | null = null;
  for (const line of text.split("\n")) {
    const b = /^media_outbound_frame_lateness_ms_bucket\{le="([^"]+)"\} ([\d.e+]+)$/.exec(line);
    if (b) {
      if (b[1] === "+Inf") count = Number(b[2]);
      else {
        bounds.push(Number(b[1]));
        cumulative.push(Number(b[2]));
      }
      continue;
    }
    const g = /^media_event_loop_delay_p99_ms ([\d.e+-]+)$/.exec(line);
    // The node samples every 10 ms and Node records the time between samples: the interval is not delay.
    if (g) loopP99 = Math.max(0, Number(g[1]) - NODE_LOOP_RESOLUTION_MS);
  }
  return { lateness: { bounds, cumulative, count }, loopP99 };
}

async function scrape(target: MediaNodeTarget): Promise<{ lateness: Histogram; loopP99: number | null }> {
  const res = await fetch(target.metricsUrl);
  return parseMetrics(await res.text());
}

function latenessDelta(before: Histogram, after: Histogram): { p99: number | null; over5: number; count: number } {
  const count = after.count - before.count;
  if (count <= 0) return { p99: null, over5: 0, count: 0 };
  const cum = after.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0));
  const idx = cum.findIndex((c) => c >= 0.99 * count);
  const five = after.bounds.indexOf(LATENESS_BUDGET_MS);
  return {
    p99: idx >= 0 ? (after.bounds[idx] ?? null) : Number.POSITIVE_INFINITY,
    over5: five >= 0 ? count - (cum[five] ?? 0) : 0,
    count,
  };
}

async function relayStats(target: BaselineTarget, reset: boolean): Promise<RelayStats> {
  const res = await fetch(`${target.statsUrl}${reset ? "?reset=1" : ""}`);
  return (await res.json()) as RelayStats;
}

export interface CallersProcess {
  run(msg: {
    url: string;
    params: Record<string, string>[];
    turns: number;
    rampMs: number;
    speech: string;
  }): Promise<LoadCallersResult>;
  stop(): void;
}

export async function startCallersProcess(cpu: number | null): Promise<CallersProcess> {
  const script = path.join(REPO_ROOT, "bench/lib/load-callers.ts");
  const args = ["--import", "tsx", script];
  const [cmd, argv] =
    cpu !== null && hasTaskset ? ["taskset", ["-c", String(cpu), process.execPath, ...args]] : [process.execPath, args];
  const child: ChildProcess = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = (type: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`callers process: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m: Record<string, unknown>) => {
        if (m.type === "error") {
          cleanup();
          reject(new Error(`callers process: ${String(m.message)}`));
        } else if (m.type === type) {
          cleanup();
          resolve(m);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`callers process exited (${code})`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  await next("ready", 30_000);
  return {
    async run(msg) {
      const done = next("done", 240_000);
      child.send({ type: "run", ...msg });
      return (await done) as unknown as LoadCallersResult;
    },
    stop: () => {
      child.kill("SIGTERM");
    },
  };
}

export async function measureCapacity(
  target: VoiceTarget,
  callers: CallersProcess,
  opts: CapacityOptions,
): Promise<CapacitySystem> {
  const log = opts.log ?? (() => {});
  const speech = (await readFile(path.join(REPO_ROOT, `test/fixtures/speech/${CAPACITY_LINE}.ulaw`))).toString(
    "base64",
  );
  const levels: CapacityLevel[] = [];
  let limitedBy = "callers were served at every level tried";
  let callSeq = 0;
  let rssIdle: number | null = null;
  const warmup = opts.warmupCalls ?? 5;
  if (warmup > 0) {
    const params = await Promise.all(
      Array.from({ length: warmup }, () => target.callParameters(`capwarm_${++callSeq}_${Date.now().toString(36)}`)),
    );
    await callers.run({ url: target.streamUrl, params, turns: 1, rampMs: warmup * 10, speech });
  }
  const measure = async (calls: number, attempt: 1 | 2): Promise<CapacityLevel> => {
    const params = await Promise.all(
      Array.from({ length: calls }, () =>
        target.callParameters(`cap_${calls}_${++callSeq}_${Date.now().toString(36)}`),
      ),
    );
    await sleep(500);
    const pid = target.service.pid;
    const rssBefore = procRssBytes(pid);
    rssIdle ??= rssBefore;
    const cpuBefore = procCpuMs(pid);
    let before: Awaited<ReturnType<typeof scrape>> | null = null;
    if (target.kind === "media-node") before = await scrape(target as MediaNodeTarget);
    else await relayStats(target as BaselineTarget, true);
    let rssPeak = rssBefore ?? 0;
    const sampler = setInterval(() => {
      const rss = procRssBytes(pid);
      if (rss !== null && rss > rssPeak) rssPeak = rss;
    }, 250);
    const started = performance.now();
    let result: LoadCallersResult;
    try {
      result = await callers.run({
        url: target.streamUrl,
        params,
        turns: opts.turnsPerCall,
        rampMs: Math.min(5_000, calls * 10),
        speech,
      });
    } finally {
      clearInterval(sampler);
    }
    const elapsedMs = performance.now() - started;
    const cpuAfter = procCpuMs(pid);
    const cpuPercent = cpuBefore !== null && cpuAfter !== null ? ((cpuAfter - cpuBefore) / elapsedMs) * 100 : null;
    let loopP99: number | null;
    let sendP99: number | null;
    let over5: number | null = null;
    let framesSent: number | null = null;
    let source: string;
    if (target.kind === "media-node" && before) {
      const after = await scrape(target as MediaNodeTarget);
      const d = latenessDelta(before.lateness, after.lateness);
      sendP99 = d.p99;
      over5 = d.over5;
      framesSent = d.count;
      loopP99 = after.loopP99;
      source = "outbound frame lateness p99 (the node's histogram; bucket upper bound)";
    } else {
      const stats = await relayStats(target as BaselineTarget, false);
      loopP99 = stats.eventLoop.p99Ms;
      sendP99 = stats.eventLoop.p99Ms;
      source = "event-loop delay p99 (no pacer: every send waits at most this long on the process)";
    }
    // Against the idle process, not the level before: V8 keeps the heap it grew, so growth from one level to the
    // next understates what the calls hold.
    const memoryPerCallKiB =
      rssIdle !== null && result.connected > 0 ? Math.max(0, (rssPeak - rssIdle) / result.connected / 1024) : null;
    const reasons: string[] = [];
    if (result.connected < calls) reasons.push(`${calls - result.connected} calls not connected`);
    if (result.timeouts > 0) reasons.push(`${result.timeouts} replies never came`);
    if (result.gapFrames > 0) reasons.push(`${result.gapFrames} gap frames heard in ${result.callsWithGaps} calls`);
    const served = reasons.length === 0;
    if (sendP99 === null || !(sendP99 <= LATENESS_BUDGET_MS))
      reasons.push(
        `send lateness p99 ${sendP99 === null ? "unknown" : `${round(sendP99, 2)} ms`} > ${LATENESS_BUDGET_MS} ms`,
      );
    const level: CapacityLevel = {
      calls,
      connected: result.connected,
      timeouts: result.timeouts,
      repliesHeard: result.repliesHeard,
      replyLatencyP50Ms: roundOrNull(percentile(result.voiceToVoiceMs, 50)),
      replyLatencyP99Ms: roundOrNull(percentile(result.voiceToVoiceMs, 99)),
      playedFrames: result.playedFrames,
      gapFrames: result.gapFrames,
      callsWithGaps: result.callsWithGaps,
      cpuPercent: roundOrNull(cpuPercent),
      cpuPercentPerCall: roundOrNull(cpuPercent === null ? null : cpuPercent / calls, 3),
      rssIdleMiB: roundOrNull(rssIdle === null ? null : rssIdle / 2 ** 20),
      rssPeakMiB: round(rssPeak / 2 ** 20, 1),
      memoryPerCallKiB: roundOrNull(memoryPerCallKiB, 0),
      eventLoopDelayP99Ms: roundOrNull(loopP99, 2),
      sendLatenessP99Ms: sendP99 === null ? null : Number.isFinite(sendP99) ? round(sendP99, 2) : null,
      sendLatenessSource: source,
      framesLaterThan5Ms: over5,
      framesSent,
      loadGeneratorLatenessP99Ms: result.tickLatenessP99Ms,
      durationS: round(elapsedMs / 1000, 1),
      served,
      sustained: reasons.length === 0,
      attempt,
      notSustainedBecause: reasons,
      errors: result.errors,
    };
    levels.push(level);
    log(
      `  ${target.label} ${calls} calls${attempt === 2 ? " (second try)" : ""}: ` +
        `${level.sustained ? "sustained" : `not sustained (${reasons.join("; ")})`}; ` +
        `CPU ${level.cpuPercent}%, ${level.memoryPerCallKiB} KiB/call, send p99 ${level.sendLatenessP99Ms} ms, ` +
        `reply p50 ${level.replyLatencyP50Ms} ms, load-generator lateness p99 ${level.loadGeneratorLatenessP99Ms} ms`,
    );
    return level;
  };
  for (const calls of opts.levels) {
    let level = await measure(calls, 1);
    // Both systems share a 2-core box with their load, and one GC pause can lift a level's p99 past the budget:
    // a level that was served but missed it is run once more, and that second try is the verdict (both shown).
    if (level.served && !level.sustained) level = await measure(calls, 2);
    const reasons = level.notSustainedBecause;
    if (!level.served) {
      limitedBy =
        level.loadGeneratorLatenessP99Ms > 2 * 20
          ? `callers noticed at ${calls} calls (${reasons.join("; ")}), and the callers' own clock ran late (p99 ${level.loadGeneratorLatenessP99Ms} ms): the load side may be the limit`
          : `callers noticed at ${calls} calls: ${reasons.join("; ")}`;
      if (opts.stopAtFirstFailure ?? true) break;
    }
  }
  const last = [...levels].reverse().find((l) => l.served) ?? levels.at(-1) ?? null;
  const largest = (pick: (l: CapacityLevel) => boolean) => {
    // The largest level such that it and every level below it passed: one lucky level above a failure doesn't count.
    let best: number | null = null;
    // A level's verdict is its last try.
    const verdicts = levels.filter((l, i) => !levels.slice(i + 1).some((later) => later.calls === l.calls));
    for (const l of verdicts) {
      if (!pick(l)) break;
      best = l.calls;
    }
    return best;
  };
  return {
    system: target.label,
    command: target.service.command,
    levels,
    callsPerCore: largest((l) => l.sustained),
    callsPerCoreServed: largest((l) => l.served),
    memoryPerCallKiB: memorySlopeKiB(levels) ?? last?.memoryPerCallKiB ?? null,
    cpuPercentPerCall: last?.cpuPercentPerCall ?? null,
    cpuBoundCallsEstimate:
      last?.cpuPercentPerCall !== null && last?.cpuPercentPerCall !== undefined && last.cpuPercentPerCall > 0
        ? Math.floor(100 / last.cpuPercentPerCall)
        : null,
    limitedBy,
  };
}

/** KiB of peak resident memory per additional call, fitted over the levels; null with fewer than two levels. */
export function memorySlopeKiB(levels: readonly Pick<CapacityLevel, "calls" | "rssPeakMiB">[]): number | null {
  const pts = levels.filter((l) => l.rssPeakMiB !== null);
  if (pts.length < 2) return null;
  const mx = pts.reduce((a, l) => a + l.calls, 0) / pts.length;
  const my = pts.reduce((a, l) => a + (l.rssPeakMiB ?? 0), 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const l of pts) {
    num += (l.calls - mx) * ((l.rssPeakMiB ?? 0) - my);
    den += (l.calls - mx) ** 2;
  }
  return den === 0 ? null : Math.max(0, Math.round((num / den) * 1024));
}

export function compareCapacity(
  mediaNode: CapacitySystem,
  baseline: CapacitySystem,
  opts: { levels: number[]; turnsPerCall: number },
): CapacityFigures {
  // CPU per call compares at one level, the same load behind both: the largest level both served, else the
  // largest both ran. Memory per call compares the fitted slopes.
  const both = (pick: (l: CapacityLevel) => boolean) =>
    [...opts.levels]
      .reverse()
      .find(
        (n) =>
          mediaNode.levels.some((l) => l.calls === n && pick(l)) &&
          baseline.levels.some((l) => l.calls === n && pick(l)),
      );
  const servedLevel = both((l) => l.served);
  const common = servedLevel ?? both(() => true);
  const at = (s: CapacitySystem) => s.levels.find((l) => l.calls === common);
  return {
    workload: `each call says the "${CAPACITY_LINE}" fixture (2.0 s), hears the whole reply, ${opts.turnsPerCall} turn(s) per call; calls ramped in over min(5 s, 10 ms × N); emulators on the instant profile with the synthetic voice`,
    criterion: `it is served and the system's send lateness p99 is at most ${LATENESS_BUDGET_MS} ms`,
    levels: opts.levels,
    mediaNode,
    baseline,
    comparedAtCalls: common ?? null,
    comparedAtServed: servedLevel !== undefined,
    ratios: {
      callsPerCore: ratio(mediaNode.callsPerCore, baseline.callsPerCore),
      callsPerCoreServed: ratio(mediaNode.callsPerCoreServed, baseline.callsPerCoreServed),
      memoryPerCall: ratio(mediaNode.memoryPerCallKiB, baseline.memoryPerCallKiB),
      cpuPerCall: ratio(at(mediaNode)?.cpuPercentPerCall, at(baseline)?.cpuPercentPerCall),
    },
  };
}
