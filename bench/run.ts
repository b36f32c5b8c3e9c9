// `npm run bench`: every benchmark in one run, with a baseline measured in the same run, written to
// bench/results/latest.json and rendered into docs/benchmarks.md. Figures and ratios are printed, never
// asserted. A section that cannot run (a missing helper, a failure) is reported as "not measured: <reason>";
// the rest still run.
//
//   npm run bench                    full run (about 6-8 minutes on 2 cores)
//   npm run bench -- --quick         smaller N (about a minute or two); writes bench/results/quick.tmp.json
//   npm run bench -- --only latency,capacity   some sections only (outputs go to the quick paths)
//   --json FILE / --doc FILE         where to write the result and the document
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type BargeInFigures, measureBargeIn } from "./lib/barge-in.ts";
import { compareCapacity, measureCapacity, startCallersProcess } from "./lib/capacity.ts";
import { currentAffinity, machineInfo } from "./lib/machine.ts";
import { hasTaskset, REPO_ROOT, setAffinity, stopAllServices } from "./lib/proc.ts";
import { type BenchResult, type ProviderProfile, SECTION_IDS, type Section, type SectionId } from "./lib/result.ts";
import { startBaselineTarget, startEmulators, startMediaNodeTarget } from "./lib/stack.ts";
import { sleep } from "./lib/stats.ts";
import {
  compareLatency,
  LATENCY_SCRIPT,
  measureBaselineLatency,
  measureMediaNodeLatency,
  type VoiceLatencyOptions,
} from "./lib/voice-latency.ts";
import { renderReport } from "./report.ts";

export interface RunBenchOptions {
  mode: "full" | "quick";
  /** Sections to run; the others are reported as not measured. Default: all. */
  only?: readonly SectionId[];
  /** Where to write the JSON result; null writes none. */
  outJson?: string | null;
  /** Where to write the Markdown report; null writes none. */
  outDoc?: string | null;
  /** Overrides for the voice-latency section (the smoke test makes it tiny). */
  latency?: Partial<VoiceLatencyOptions>;
  log?: (line: string) => void;
}

/** Matches the emulators' "realistic" profiles (emulators/deepgram/index.ts, emulators/bedrock/latency.ts). */
export const REALISTIC_PROFILE: ProviderProfile = {
  name: "realistic",
  sttFinalAfterEndOfSpeechMs: 150,
  sttEndpointingMs: 300,
  fluxEagerMs: 150,
  fluxEndOfTurnMs: 350,
  llmTtftCacheHitMs: 350,
  llmTtftCacheMissMs: 700,
  llmTokensPerSecond: 80,
  ttsFirstByteMs: 120,
  ttsRealtimeFactor: 4,
};

export const DEFAULT_OUT_JSON = path.join(REPO_ROOT, "bench/results/latest.json");
export const DEFAULT_OUT_DOC = path.join(REPO_ROOT, "docs/benchmarks.md");

interface Settings {
  latency: VoiceLatencyOptions;
  capacity: { levels: number[]; turnsPerCall: number; warmupCalls: number };
  mediaNode: { levels: number[]; turnsPerCall: number };
  edge: { calls: number; concurrency: number; decisions: number };
  emulators: { seconds: number; maxStreams: number };
}

function settingsFor(mode: "full" | "quick"): Settings {
  return mode === "full"
    ? {
        latency: { calls: 8, staggerMs: 400, warmup: true, script: LATENCY_SCRIPT, nova3Calls: 4 },
        capacity: { levels: [25, 50, 100, 150, 200, 300], turnsPerCall: 1, warmupCalls: 5 },
        mediaNode: { levels: [1, 100, 200, 500], turnsPerCall: 1 },
        edge: { calls: 200, concurrency: 8, decisions: 2_000 },
        emulators: { seconds: 3, maxStreams: 512 },
      }
    : {
        latency: { calls: 2, staggerMs: 300, warmup: false, script: ["book-appointment"], bargeInCalls: 1 },
        capacity: { levels: [5], turnsPerCall: 1, warmupCalls: 0 },
        mediaNode: { levels: [1, 5], turnsPerCall: 1 },
        edge: { calls: 20, concurrency: 4, decisions: 200 },
        emulators: { seconds: 2, maxStreams: 16 },
      };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn` as one section: its figures, or "not measured" with the reason; never throws. */
async function section<T>(
  id: SectionId,
  skipReason: string | null,
  command: string,
  log: (line: string) => void,
  fn: () => Promise<T | { figures: T; notes: string[] }>,
): Promise<Section<T>> {
  if (skipReason !== null) return { status: "not-measured", command, reason: skipReason };
  const started = performance.now();
  log(`── ${id} ──`);
  try {
    const out = await fn();
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    log(`   ${id}: done in ${seconds} s`);
    if (out && typeof out === "object" && "figures" in out && "notes" in out) {
      const o = out as { figures: T; notes: string[] };
      return { status: "measured", command, seconds, figures: o.figures, notes: o.notes };
    }
    return { status: "measured", command, seconds, figures: out as T };
  } catch (err) {
    log(`   ${id}: not measured: ${errorMessage(err)}`);
    return { status: "not-measured", command, reason: errorMessage(err) };
  } finally {
    await stopAllServices();
    // Let processes a section stopped finish exiting before the next section measures anything.
    await sleep(1_500);
  }
}

/** A bench function exported by another module; a missing file or export is a reason, not a crash. */
async function external(file: string, name: string): Promise<(opts: Record<string, unknown>) => Promise<unknown>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path.join(REPO_ROOT, file)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file} could not be loaded: ${errorMessage(err)}`);
  }
  const fn = mod[name];
  if (typeof fn !== "function") throw new Error(`${file} does not export ${name}()`);
  return fn as (opts: Record<string, unknown>) => Promise<unknown>;
}

export async function runBench(opts: RunBenchOptions): Promise<BenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const s = settingsFor(opts.mode);
  const latency: VoiceLatencyOptions = { ...s.latency, ...opts.latency };
  const wanted = (id: SectionId): string | null =>
    !opts.only || opts.only.includes(id) ? null : `skipped in this run (--only ${opts.only.join(",")})`;
  const quick = opts.mode === "quick" ? " -- --quick" : "";
  const only = (id: SectionId) => `npm run bench -- ${opts.mode === "quick" ? "--quick " : ""}--only ${id}`;
  const command = `npm run bench${quick}${opts.only ? `${quick ? "" : " --"} --only ${opts.only.join(",")}` : ""}`;

  // The system under test gets core 0 to itself; emulators, callers and this process share the last core.
  const pinned = hasTaskset && machine.cores >= 2;
  const sutCpu = pinned ? 0 : null;
  const loadCpu = pinned ? machine.cores - 1 : null;
  const placement = pinned
    ? `system under test (media node or baseline) alone on core 0 (taskset); emulators, simulated callers and the runner on core ${loadCpu}`
    : "no pinning (taskset unavailable or one core): all processes share the cores";
  const ownAffinity = currentAffinity();
  const toLoadCore = () => {
    if (loadCpu !== null) setAffinity(String(loadCpu));
  };
  const restoreAffinity = () => {
    if (ownAffinity !== null && pinned) setAffinity(ownAffinity);
  };

  try {
    // First: how much load the emulators can carry tells how to read the load tests after it.
    const emulatorsSection = await section(
      "emulators",
      wanted("emulators"),
      `npx tsx bench/emulator-streams.ts --seconds ${s.emulators.seconds} --max-streams ${s.emulators.maxStreams}   (or ${only("emulators")})`,
      log,
      async () => {
        const bench = await external("bench/emulator-streams.ts", "benchEmulatorStreams");
        return bench({ seconds: s.emulators.seconds, maxStreams: s.emulators.maxStreams });
      },
    );

    const latencySection = await section("latency", wanted("latency"), only("latency"), log, async () => {
      toLoadCore();
      const emulators = await startEmulators({ profile: "realistic", cpu: loadCpu });
      const node = await startMediaNodeTarget({ emulators, cpu: sutCpu });
      const mediaNode = await measureMediaNodeLatency(node, latency);
      log(`   media node: heard p50 ${mediaNode.voiceToVoiceMs.p50} ms, p99 ${mediaNode.voiceToVoiceMs.p99} ms`);
      // The same calls to an agent whose recognizer is Nova-3: fewer of them, to keep the section short.
      const nova3Calls = latency.nova3Calls ?? 0;
      const novaStarted = performance.now();
      const nova3 =
        nova3Calls > 0
          ? await measureMediaNodeLatency(node.withRecognizer("nova-3"), { ...latency, calls: nova3Calls })
          : undefined;
      if (nova3) {
        log(
          `   media node (Nova-3): heard p50 ${nova3.voiceToVoiceMs.p50} ms, p99 ${nova3.voiceToVoiceMs.p99} ms ` +
            `(${Math.round((performance.now() - novaStarted) / 1000)} s)`,
        );
      }
      const bargeIn = await measureBargeIn(node, emulators, latency.bargeInCalls ?? 3);
      for (const line of bargeInLines(bargeIn)) log(`   ${line}`);
      await node.stop();
      const relay = await startBaselineTarget({ emulators, cpu: sutCpu });
      const baseline = await measureBaselineLatency(relay, latency);
      log(`   baseline:   heard p50 ${baseline.voiceToVoiceMs.p50} ms, p99 ${baseline.voiceToVoiceMs.p99} ms`);
      await relay.stop();
      await emulators.stop();
      return {
        figures: compareLatency(mediaNode, baseline, latency, bargeIn, nova3),
        notes: [node.service.command, relay.service.command, emulators.service.command],
      };
    });

    const capacitySection = await section("capacity", wanted("capacity"), only("capacity"), log, async () => {
      toLoadCore();
      const emulators = await startEmulators({ profile: "instant", cpu: loadCpu, voice: "synthetic" });
      const callers = await startCallersProcess(loadCpu);
      try {
        const capOpts = { ...s.capacity, callersCpu: loadCpu, log };
        const maxCalls = Math.max(...s.capacity.levels) + 50;
        const node = await startMediaNodeTarget({ emulators, cpu: sutCpu, sink: false, maxCalls });
        const mediaNode = await measureCapacity(node, callers, capOpts);
        await node.stop();
        const relay = await startBaselineTarget({ emulators, cpu: sutCpu });
        const baseline = await measureCapacity(relay, callers, capOpts);
        await relay.stop();
        return compareCapacity(mediaNode, baseline, s.capacity);
      } finally {
        callers.stop();
        await emulators.stop();
      }
    });
    restoreAffinity();

    const mediaNodeSection = await section(
      "mediaNode",
      wanted("mediaNode"),
      `${only("mediaNode")}   (benchMediaNode({ levels: [${s.mediaNode.levels.join(", ")}], turnsPerCall: ${s.mediaNode.turnsPerCall} }) from bench/media-node.ts)`,
      log,
      async () => {
        const bench = await external("bench/media-node.ts", "benchMediaNode");
        return bench({
          levels: s.mediaNode.levels,
          turnsPerCall: s.mediaNode.turnsPerCall,
          log: (l: string) => log(`   ${l}`),
        });
      },
    );

    const edgeSection = await section(
      "edge",
      wanted("edge"),
      `npx tsx bench/edge.ts --calls ${s.edge.calls} --concurrency ${s.edge.concurrency} --decisions ${s.edge.decisions}   (or ${only("edge")})`,
      log,
      async () => {
        const bench = await external("bench/edge.ts", "benchEdge");
        return bench({ ...s.edge, log: (l: string) => log(`   ${l}`) });
      },
    );

    const result: BenchResult = {
      schema: 1,
      mode: opts.mode,
      command,
      startedAt,
      finishedAt: new Date().toISOString(),
      durationS: Math.round((performance.now() - started) / 1000),
      machine,
      placement,
      latencyProfile: REALISTIC_PROFILE,
      sections: {
        latency: latencySection,
        capacity: capacitySection,
        mediaNode: mediaNodeSection,
        edge: edgeSection,
        emulators: emulatorsSection,
      },
    };
    if (opts.outJson) {
      await mkdir(path.dirname(opts.outJson), { recursive: true });
      await writeFile(opts.outJson, `${JSON.stringify(result, null, 2)}\n`);
    }
    if (opts.outDoc) {
      await mkdir(path.dirname(opts.outDoc), { recursive: true });
      await writeFile(opts.outDoc, renderReport(result));
    }
    return result;
  } finally {
    restoreAffinity();
    await stopAllServices();
  }
}

/** Barge-in as heard at the caller, in two lines. */
function bargeInLines(b: BargeInFigures): string[] {
  const i = b.interruptions;
  const k = b.backchannels;
  return [
    `barge-in (media node, ${i.n} interruptions): agent quiet after the caller's onset p50/p99 ${i.timeToSilenceMs.p50}/${i.timeToSilenceMs.p99} ms, ` +
      `agent heard again before the clear p50/p99 ${i.heardAfterStopMs.p50}/${i.heardAfterStopMs.p99} ms, clear p50 ${i.clearAfterMs.p50} ms`,
    `back-channels over an answer (${k.n}): ${k.interrupted} interrupted, longest silence heard p50/p99 ${k.longestSilenceMs.p50}/${k.longestSilenceMs.p99} ms`,
  ];
}

/** The headline figures, for the terminal. */
export function summaryLines(r: BenchResult): string[] {
  const lines = [
    `${r.machine.cpuModel}, ${r.machine.cores} cores, ${Math.round(r.machine.memoryBytes / 2 ** 30)} GiB, Node ${r.machine.node}`,
  ];
  const l = r.sections.latency;
  if (l.status === "measured") {
    const f = l.figures;
    lines.push(
      `voice-to-voice heard p50/p99: media node ${f.mediaNode.voiceToVoiceMs.p50}/${f.mediaNode.voiceToVoiceMs.p99} ms, ` +
        `baseline ${f.baseline.voiceToVoiceMs.p50}/${f.baseline.voiceToVoiceMs.p99} ms ` +
        `(baseline ÷ media node: ${f.ratios.voiceToVoiceP50}× p50, ${f.ratios.voiceToVoiceP99}× p99)`,
      `platform share p50/p99: media node ${f.mediaNode.platformMs.p50}/${f.mediaNode.platformMs.p99} ms, baseline ${f.baseline.platformMs.p50}/${f.baseline.platformMs.p99} ms`,
    );
    if (f.nova3) {
      lines.push(
        `voice-to-voice heard p50/p99, media node with Nova-3: ${f.nova3.voiceToVoiceMs.p50}/${f.nova3.voiceToVoiceMs.p99} ms`,
      );
    }
    if (f.bargeIn) lines.push(...bargeInLines(f.bargeIn));
  } else lines.push(`voice-to-voice latency: not measured: ${l.reason}`);
  const c = r.sections.capacity;
  if (c.status === "measured") {
    const f = c.figures;
    lines.push(
      `calls per core sustained / served: media node ${f.mediaNode.callsPerCore ?? "none"} / ${f.mediaNode.callsPerCoreServed ?? "none"}, ` +
        `baseline ${f.baseline.callsPerCore ?? "none"} / ${f.baseline.callsPerCoreServed ?? "none"} ` +
        `(ratios ${f.ratios.callsPerCore ?? "—"} / ${f.ratios.callsPerCoreServed ?? "—"}); ` +
        `memory per call ratio ${f.ratios.memoryPerCall ?? "—"}, CPU per call ratio ${f.ratios.cpuPerCall ?? "—"}`,
    );
  } else lines.push(`capacity: not measured: ${c.reason}`);
  for (const id of ["mediaNode", "edge", "emulators"] as const) {
    const sec = r.sections[id];
    lines.push(`${id}: ${sec.status === "measured" ? `measured (${sec.seconds} s)` : `not measured: ${sec.reason}`}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      json: { type: "string" },
      doc: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "npm run bench [-- --quick] [--only latency,capacity,mediaNode,edge,emulators] [--json FILE] [--doc FILE]\n",
    );
    return;
  }
  const only = values.only?.split(",").map((x) => x.trim());
  const unknown = only?.filter((x) => !(SECTION_IDS as readonly string[]).includes(x));
  if (unknown && unknown.length > 0) {
    process.stderr.write(
      `npm run bench: unknown section ${unknown.join(", ")}; sections are ${SECTION_IDS.join(", ")}\n`,
    );
    process.exit(2);
  }
  const mode = values.quick ? "quick" : "full";
  // Only a full run of every section replaces the committed results.
  const official = mode === "full" && !only;
  const outJson = values.json ?? (official ? DEFAULT_OUT_JSON : path.join(REPO_ROOT, "bench/results/quick.tmp.json"));
  const outDoc = values.doc ?? (official ? DEFAULT_OUT_DOC : path.join(tmpdir(), "aybiza-benchmarks-quick.md"));
  const result = await runBench({ mode, ...(only ? { only: only as SectionId[] } : {}), outJson, outDoc });
  process.stdout.write(`\n${summaryLines(result).join("\n")}\n\nwrote ${outJson}\nwrote ${outDoc}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`npm run bench: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
}
