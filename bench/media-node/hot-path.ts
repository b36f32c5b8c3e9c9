// What the media node's hot path costs per frame, in figures that do not depend on how busy the machine is: N calls
// built in-process as the node builds them (Call, the real Deepgram and Bedrock clients against the emulators in a
// child process), each saying the "opening-hours" line, hearing the reply (marks echoed as a carrier does) and
// staying silent for a while, in a loop. Over a measured window it reports the bytes allocated (V8's sampling heap
// profiler, counting objects already collected) and the main thread's CPU, per frame in and out, and the allocation
// sites that account for most of it.
//
//   npx tsx --expose-gc bench/media-node/hot-path.ts [calls=50] [--nova] [--seconds=20] [--profile=<file>]
//
// `--nova` opens Nova-3 instead of the agent's default (Flux); `--profile` keeps the raw .heapprofile.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createMediaMetrics } from "../../media-nodes/src/metrics/media-metrics.ts";
import { AudioCache } from "../../media-nodes/src/pipeline/audio-cache.ts";
import { Call, type CallLink } from "../../media-nodes/src/pipeline/call.ts";
import { FrameClock } from "../../media-nodes/src/pipeline/frame-clock.ts";
import { bedrockLlm } from "../../media-nodes/src/providers/bedrock/llm.ts";
import { deepgramFluxStt } from "../../media-nodes/src/providers/deepgram/flux-stt.ts";
import { deepgramRecognizers } from "../../media-nodes/src/providers/deepgram/recognizers.ts";
import { deepgramStt } from "../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../media-nodes/src/providers/deepgram/tts.ts";
import { llmWithFallback, ttsWithFallback } from "../../media-nodes/src/providers/fallback.ts";
import { silentLogger } from "../../media-nodes/src/server/logger.ts";
import { AgentRuntimeConfigSchema } from "../../shared/agent-config.ts";
import type { CallTokenClaims } from "../../shared/call-token.ts";
import { compilePromptPrefix } from "../../shared/prompt-prefix.ts";
import { benchAgent } from "../lib/agent.ts";

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 50);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const SECONDS = Number(option("seconds") ?? 20);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

async function startEmulators(): Promise<{ child: ChildProcess; deepgram: string; bedrock: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "emulators-process.ts")], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on("exit", (code) => reject(new Error(`emulators exited ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { deepgram: string; bedrock: string }) };
}

const inspector = new Session();
inspector.connect();
const post = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    inspector.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Sampled bytes by allocation site: the innermost frame of the media node (or shared code), and the frame itself. */
function sites(head: ProfileNode): { total: number; rows: [string, number][] } {
  const bySite = new Map<string, number>();
  let total = 0;
  const name = (f: ProfileNode["callFrame"]) =>
    `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(media-nodes\/src|shared|node_modules)\//, "$1/")}`;
  const ours = (f: ProfileNode["callFrame"]) => /\/(media-nodes\/src|shared)\//.test(f.url);
  const walk = (node: ProfileNode, stack: ProfileNode["callFrame"][]) => {
    stack.push(node.callFrame);
    if (node.selfSize > 0) {
      total += node.selfSize;
      let key = "(no media-node frame)";
      for (let i = stack.length - 1; i >= 0; i--) {
        if (!ours(stack[i]!)) continue;
        key = i === stack.length - 1 ? name(stack[i]!) : `${name(stack[i]!)} > ${name(stack[stack.length - 1]!)}`;
        break;
      }
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, stack);
    stack.pop();
  };
  walk(head, []);
  return { total, rows: [...bySite].sort((a, b) => b[1] - a[1]) };
}

async function main(): Promise<void> {
  const emulators = await startEmulators();
  // The capacity bench's agent (bench/lib/agent.ts), with its recogniser or Nova-3.
  const agent = AgentRuntimeConfigSchema.parse({
    ...benchAgent(),
    ...(args.includes("--nova") ? { recognizer: "nova-3" } : {}),
  });
  const prefix = await compilePromptPrefix(agent);
  const metrics = createMediaMetrics({ activeCalls: () => 0 });
  const clock = new FrameClock();
  const audioCache = new AudioCache(silentLogger);
  const dg = { apiKey: "emulator", baseUrl: emulators.deepgram };
  const stt = deepgramRecognizers({ flux: deepgramFluxStt(dg), nova: deepgramStt(dg) });
  const tts = ttsWithFallback(deepgramTts(dg), { fallbackVoice: agent.fallbackVoice });
  const llm = llmWithFallback(
    bedrockLlm({
      region: "us-east-1",
      endpoint: emulators.bedrock,
      credentials: { accessKeyId: "local-emulator", secretAccessKey: "local-emulator" },
    }),
  );
  const speech = readFileSync(path.join(root, "test/fixtures/speech/opening-hours.ulaw"));
  const silence = new Uint8Array(160).fill(0xff);
  // Each call: its line, then 8 s of silence (hearing the whole reply, as the capacity bench's callers do), again;
  // calls start 20 ms apart.
  const cycleFrames = Math.ceil(speech.length / 160) + 400;
  const frame = new Uint8Array(160);
  let framesIn = 0;
  let framesOut = 0;
  const calls: { call: Call; at: number }[] = [];
  for (let i = 0; i < N; i++) {
    let call: Call | undefined;
    const echo = (marks: readonly string[]) => {
      for (const m of marks) call?.onMark(m);
    };
    const link: CallLink = {
      closed: false,
      sendFrame: (_frame, marks) => {
        framesOut += 1;
        // The carrier plays what it is sent and echoes each mark as its audio plays.
        if (marks.length > 0) queueMicrotask(() => echo(marks));
        return "sent";
      },
      sendMarks: (names) => queueMicrotask(() => echo(names)),
      bufferedAmount: () => 0,
      sendClear: () => {},
      sendNotice: () => {},
      end: () => {},
    };
    call = new Call(
      {
        claims: { callId: `call_hot_${i}`, tenantId: agent.tenantId, region: "local" } as CallTokenClaims,
        agent,
        prefix,
        transport: "twilio",
        link,
        carrier: {},
      },
      {
        stt,
        llm,
        tts,
        toolRunner: { run: async () => ({ outcomes: [], actions: [] }) },
        sink: { publish: () => {}, flush: async () => {} },
        metrics,
        clock,
        audioCache,
        logger: silentLogger,
        nodeId: "hot",
        deadAirMs: 2_000,
        lines: { filler: "One moment.", apology: "Sorry.", drainGoodbye: "Goodbye." },
      },
    );
    calls.push({ call, at: -i });
  }
  await Promise.all(calls.map((c) => c.call.start()));
  const feeder = setInterval(() => {
    for (const c of calls) {
      const k = c.at++;
      if (k < 0) continue;
      const at = (k % cycleFrames) * 160;
      if (at < speech.length) {
        frame.fill(0xff);
        frame.set(speech.subarray(at, Math.min(at + 160, speech.length)));
        c.call.onAudio(frame);
      } else c.call.onAudio(silence);
      framesIn += 1;
    }
  }, 20);
  // One whole cycle first: every call has spoken and been answered once (JIT, caches, sockets warm).
  await new Promise((r) => setTimeout(r, cycleFrames * 20 + 1_000));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const turnsBefore = calls.reduce((s, c) => s + c.call.turnCount, 0);
  const inBefore = framesIn;
  const outBefore = framesOut;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1_000));
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - t0;
  const { profile } = (await post("HeapProfiler.stopSampling")) as { profile: { head: ProfileNode } };
  const fin = framesIn - inBefore;
  const fout = framesOut - outBefore;
  const turns = calls.reduce((s, c) => s + c.call.turnCount, 0) - turnsBefore;
  clearInterval(feeder);
  const profileFile = option("profile");
  if (profileFile) writeFileSync(profileFile, JSON.stringify(profile));
  const { total, rows } = sites(profile.head);
  const frames = fin + fout;
  console.log(
    `${N} calls (${agent.recognizer}), ${Math.round(wallMs)} ms measured: ${fin} frames in, ${fout} out, ${turns} turns`,
  );
  console.log(
    `allocated ${(total / 1048576).toFixed(1)} MiB: ${Math.round(total / frames)} bytes per frame (in + out), ` +
      `${Math.round(total / N / (wallMs / 1000) / 1024)} KiB per call-second`,
  );
  console.log(
    `main thread CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms: ${((cpu.user + cpu.system) / frames).toFixed(1)} µs per frame`,
  );
  for (const [site, bytes] of rows.slice(0, Number(option("top") ?? 30)))
    console.log(
      `  ${(bytes / frames).toFixed(1).padStart(7)} B/frame ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`,
    );
  for (const c of calls) c.call.end("caller-hung-up", "done");
  clock.stop();
  metrics.close();
  emulators.child.kill();
  setTimeout(() => process.exit(0), 300).unref();
}

await main();
