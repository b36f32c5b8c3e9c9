// Voice-to-voice latency per turn, measured at the caller: from the last frame of the caller's line to the
// first audible agent frame, for the media node and the baseline, with the same scripts against the same
// emulators in the same run. The platform's own share comes from the system itself: the media node's turn
// waterfall (its session events) and the baseline's per-turn timeline (its /stats).
import { FRAME_BYTES, FRAME_MS, mulawRms } from "../../emulators/twilio-caller/audio.ts";
import { type CallerStep, type CallReport, SimulatedCaller } from "../../emulators/twilio-caller/caller.ts";
import type { RelayStats } from "../baseline/ws-relay.ts";
import type { BargeInFigures } from "./barge-in.ts";
import type { BaselineTarget, MediaNodeTarget, VoiceTarget } from "./stack.ts";
import { ratio, round, type Summary, sleep, summarize } from "./stats.ts";

/** Lines every call says, in order: the first lines of the emulator's default caller script. */
export const LATENCY_SCRIPT = ["book-appointment", "order-status"] as const;

const HEAR_MARGIN_MS = 1_000;
const DEFAULT_STAGGER_MS = 400;

export interface VoiceLatencyOptions {
  /** Calls placed at once (each says every line of the script). */
  calls: number;
  /** Gap between call starts, so turns don't all end in the same millisecond. */
  staggerMs?: number;
  /** One unmeasured call first, so both systems are measured warm. */
  warmup?: boolean;
  script?: readonly string[];
  /** Media node calls that barge in (bench/lib/barge-in.ts), after the latency calls. */
  bargeInCalls?: number;
  /**
   * Media node calls to the same agent with Nova-3 as its recognizer (Flux is the default), same script and
   * stagger, after the Flux calls; 0 or absent: none.
   */
  nova3Calls?: number;
}

export interface TurnSample {
  callId: string;
  index: number;
  line: string;
  /** Caller-measured: end of speech → first audible agent frame played (heard). */
  voiceToVoiceMs: number | null;
  /** Caller-measured: end of speech → first audible agent frame received (the CallReport's firstAgentAudioMs). */
  receivedMs: number | null;
  /** The system's own share of that turn's critical path (null when unavailable). */
  platformMs: number | null;
  sttMs?: number | null;
  llmFirstTokenMs?: number | null;
  /** Baseline only: first token → first complete sentence handed to TTS. */
  sentenceWaitMs?: number | null;
  ttsFirstByteMs?: number | null;
  /** Media node: end of speech → the model request of the reply that played (turn detection's wait). */
  turnDetectionMs?: number | null;
  /** Media node: speculative replies started in the turn, those aborted, and whether the one played was one. */
  speculativeStarts?: number | null;
  speculativeWasted?: number | null;
  speculative?: boolean | null;
  timedOut: boolean;
}

/** Speculative replies over the measured turns (media node only). */
export interface SpeculationSummary {
  turns: number;
  starts: number;
  wasted: number;
  startsPerTurn: number;
  /** Aborted ÷ started: model requests paid for and not used. */
  wastedShare: number;
  /** Turns whose reply that played had been started speculatively. */
  playedSpeculativeShare: number;
}

export interface SystemLatency {
  system: string;
  turns: number;
  timedOut: number;
  voiceToVoiceMs: Summary;
  /** The same turns timed at receipt of the first audible frame rather than its playout. */
  firstAudioReceivedMs: Summary;
  platformMs: Summary;
  /** voice-to-voice minus the platform share, per turn: STT, model and TTS waits plus the network. */
  providerAndNetworkMs: Summary;
  components: Record<string, Summary>;
  /** Where the platform share comes from, in words. */
  platformSource: string;
  speculation?: SpeculationSummary;
  errors: string[];
  samples: TurnSample[];
}

export interface VoiceLatencyFigures {
  script: string[];
  callsPerSystem: number;
  staggerMs: number;
  warmup: boolean;
  mediaNode: SystemLatency;
  baseline: SystemLatency;
  /** baseline ÷ media node (above 1: the media node answers sooner). */
  ratios: { voiceToVoiceP50: number | null; voiceToVoiceP99: number | null };
  /** The media node's barge-in as heard at the caller (bench/lib/barge-in.ts); absent in older results. */
  bargeIn?: BargeInFigures;
  /** The media node with a Nova-3 agent (`nova3Calls` calls); absent when not measured. */
  nova3?: SystemLatency & { calls: number };
}

export interface LatencyCall {
  callId: string;
  report: CallReport;
  /** Per turn: end of speech → first audible agent frame *played* by the caller (null if none). */
  heardMs: (number | null)[];
}

/**
 * When the caller first *heard* the agent after each line, from its own playout track: one frame per 20 ms
 * tick on the call's timeline. This is what a person on the phone experiences. "Received" (the CallReport's
 * firstAgentAudioMs) flatters a relay that bursts audio faster than real time: a burst whose leading
 * silence arrives in the same message as the first word counts as received at once, yet the caller must
 * still sit through that silence before the word plays. A paced sender pays that silence before sending.
 */
export function firstHeardPerTurn(report: CallReport, agentTrack: Uint8Array, threshold = 200): (number | null)[] {
  const frames = Math.floor(agentTrack.length / FRAME_BYTES);
  return report.turns.map((turn) => {
    // Frame k of the track played at the tick due (k + 1) × 20 ms after the stream started.
    const from = Math.max(0, Math.round(turn.endOfSpeechAt / FRAME_MS) - 1);
    for (let k = from; k < frames; k++) {
      if (mulawRms(agentTrack, k * FRAME_BYTES, (k + 1) * FRAME_BYTES) > threshold) {
        const at = (k + 1) * FRAME_MS;
        return at >= turn.endOfSpeechAt ? round(at - turn.endOfSpeechAt, 1) : null;
      }
    }
    return null;
  });
}

/**
 * One call: every line but the last heard to the end of the agent's reply; after the last line the caller
 * stays just long enough to hear the agent start, then hangs up (the reply's length measures nothing here).
 */
export async function placeLatencyCall(
  target: VoiceTarget,
  callId: string,
  script: readonly CallerStep[],
): Promise<LatencyCall> {
  const caller = await SimulatedCaller.connect({
    streamUrl: target.streamUrl,
    customParameters: await target.callParameters(callId),
    callSid: callId,
    record: true,
  });
  try {
    for (const [i, step] of script.entries()) {
      if (caller.isClosed) break;
      if (i < script.length - 1) {
        await caller.runScript([step]);
        continue;
      }
      const said = caller.runScript([step]);
      const deadline = performance.now() + 30_000;
      let answeredAt: number | null = null;
      while (!caller.isClosed && performance.now() < deadline) {
        const turns = caller.report().turns;
        const last = turns.length === i + 1 ? turns[i] : undefined;
        if (last?.timedOut) break;
        if (last?.firstAgentAudioMs != null) answeredAt ??= performance.now();
        // Stay long enough for a burst's leading silence to play out and the first word to be heard.
        if (answeredAt !== null && performance.now() - answeredAt > HEAR_MARGIN_MS) break;
        await sleep(20);
      }
      await caller.hangUp();
      await said;
    }
  } finally {
    await caller.hangUp();
  }
  const report = caller.report();
  return { callId, report, heardMs: firstHeardPerTurn(report, caller.recording().agent) };
}

async function fetchRelayStats(target: BaselineTarget, reset: boolean): Promise<RelayStats> {
  const res = await fetch(`${target.statsUrl}${reset ? "?reset=1" : ""}`);
  return (await res.json()) as RelayStats;
}

function summarizeSystem(
  system: string,
  samples: TurnSample[],
  platformSource: string,
  errors: string[],
): SystemLatency {
  const answered = samples.filter((s) => s.voiceToVoiceMs !== null);
  const v2v = answered.map((s) => s.voiceToVoiceMs as number);
  const platform = answered.flatMap((s) => (s.platformMs === null ? [] : [s.platformMs]));
  const provider = answered.flatMap((s) =>
    s.platformMs === null || s.voiceToVoiceMs === null ? [] : [s.voiceToVoiceMs - s.platformMs],
  );
  const components: Record<string, Summary> = {};
  for (const key of ["sttMs", "turnDetectionMs", "llmFirstTokenMs", "sentenceWaitMs", "ttsFirstByteMs"] as const) {
    const xs = answered.flatMap((s) => (typeof s[key] === "number" ? [s[key] as number] : []));
    if (xs.length > 0) components[key] = summarize(xs);
  }
  const reported = samples.filter((s) => typeof s.speculativeStarts === "number");
  let speculation: SpeculationSummary | undefined;
  if (reported.length > 0) {
    const starts = reported.reduce((n, s) => n + (s.speculativeStarts ?? 0), 0);
    const wasted = reported.reduce((n, s) => n + (s.speculativeWasted ?? 0), 0);
    speculation = {
      turns: reported.length,
      starts,
      wasted,
      startsPerTurn: starts / reported.length,
      wastedShare: starts > 0 ? wasted / starts : 0,
      playedSpeculativeShare: reported.filter((s) => s.speculative === true).length / reported.length,
    };
  }
  return {
    system,
    turns: samples.length,
    timedOut: samples.filter((s) => s.timedOut || s.voiceToVoiceMs === null).length,
    voiceToVoiceMs: summarize(v2v),
    firstAudioReceivedMs: summarize(answered.flatMap((s) => (s.receivedMs === null ? [] : [s.receivedMs]))),
    platformMs: summarize(platform, 2),
    providerAndNetworkMs: summarize(provider),
    components,
    platformSource,
    ...(speculation ? { speculation } : {}),
    errors: errors.slice(0, 20),
    samples,
  };
}

async function runCalls(
  target: VoiceTarget,
  prefix: string,
  calls: number,
  staggerMs: number,
  script: readonly string[],
): Promise<{ reports: LatencyCall[]; errors: string[] }> {
  const errors: string[] = [];
  const settled = await Promise.allSettled(
    Array.from({ length: calls }, async (_, i) => {
      await sleep(i * staggerMs);
      const callId = `${prefix}_${i + 1}_${Date.now().toString(36)}`;
      const call = await placeLatencyCall(target, callId, script);
      for (const e of call.report.errors) errors.push(`${callId}: ${e}`);
      return call;
    }),
  );
  const reports: LatencyCall[] = [];
  for (const s of settled) {
    if (s.status === "fulfilled") reports.push(s.value);
    else errors.push(String(s.reason instanceof Error ? s.reason.message : s.reason));
  }
  return { reports, errors };
}

export async function measureMediaNodeLatency(
  target: MediaNodeTarget,
  opts: VoiceLatencyOptions,
): Promise<SystemLatency> {
  const script = opts.script ?? LATENCY_SCRIPT;
  if (opts.warmup ?? true) await runCalls(target, "warm", 1, 0, script.slice(0, 1));
  // Session events are posted asynchronously; let the warm-up's arrive before forgetting them.
  await sleep(300);
  target.sink.clear();
  const { reports, errors } = await runCalls(target, "lat", opts.calls, opts.staggerMs ?? DEFAULT_STAGGER_MS, script);
  await sleep(500);
  const events = target.sink.turns();
  const samples: TurnSample[] = [];
  for (const { callId, report, heardMs } of reports) {
    for (const [i, turn] of report.turns.entries()) {
      const w = events.find((e) => e.callId === callId && e.index === i + 1)?.waterfall;
      samples.push({
        callId,
        index: i + 1,
        line: turn.line,
        voiceToVoiceMs: heardMs[i] ?? null,
        receivedMs: turn.firstAgentAudioMs,
        platformMs: w?.platformOverheadMs ?? null,
        sttMs: w?.sttMs ?? null,
        llmFirstTokenMs: w?.llmFirstTokenMs ?? null,
        // The node's first token → first clause handed to TTS: the baseline's "first sentence" wait, for a clause.
        sentenceWaitMs: w?.firstClauseMs ?? null,
        ttsFirstByteMs: w?.ttsFirstByteMs ?? null,
        turnDetectionMs: w?.turnDetectionMs ?? null,
        speculativeStarts: w?.speculativeStarts ?? null,
        speculativeWasted: w?.speculativeWasted ?? null,
        speculative: w?.speculative ?? null,
        timedOut: turn.timedOut,
      });
    }
  }
  return summarizeSystem(
    target.label,
    samples,
    "the media node's own turn waterfall (platformOverheadMs: STT final → LLM request, plus audio ready → first frame out), received as session events",
    errors,
  );
}

export async function measureBaselineLatency(
  target: BaselineTarget,
  opts: VoiceLatencyOptions,
): Promise<SystemLatency> {
  const script = opts.script ?? LATENCY_SCRIPT;
  if (opts.warmup ?? true) await runCalls(target, "warm", 1, 0, script.slice(0, 1));
  await fetchRelayStats(target, true);
  const { reports, errors } = await runCalls(target, "lat", opts.calls, opts.staggerMs ?? DEFAULT_STAGGER_MS, script);
  const stats = await fetchRelayStats(target, false);
  for (const e of stats.errors) errors.push(`relay: ${e}`);
  const samples: TurnSample[] = [];
  for (const { callId, report, heardMs } of reports) {
    for (const [i, turn] of report.turns.entries()) {
      const t = stats.turns.find((x) => x.callSid === callId && x.index === i + 1);
      const d = (a: number | null | undefined, b: number | null | undefined) =>
        a === null || a === undefined || b === null || b === undefined ? null : round(b - a, 1);
      samples.push({
        callId,
        index: i + 1,
        line: turn.line,
        voiceToVoiceMs: heardMs[i] ?? null,
        receivedMs: turn.firstAgentAudioMs,
        platformMs: t?.platformMs ?? null,
        llmFirstTokenMs: d(t?.llmRequestAt, t?.llmFirstTokenAt),
        sentenceWaitMs: d(t?.llmFirstTokenAt, t?.firstTextToTtsAt),
        ttsFirstByteMs: d(t?.firstTextToTtsAt, t?.ttsFirstByteAt),
        timedOut: turn.timedOut,
      });
    }
  }
  return summarizeSystem(
    target.label,
    samples,
    "the relay's own per-turn timeline (/stats): STT final → Bedrock request, plus TTS first byte → first media message sent; the same definition as the media node's",
    errors,
  );
}

export function compareLatency(
  mediaNode: SystemLatency,
  baseline: SystemLatency,
  opts: VoiceLatencyOptions,
  bargeIn?: BargeInFigures,
  nova3?: SystemLatency,
): VoiceLatencyFigures {
  return {
    ...(bargeIn ? { bargeIn } : {}),
    ...(nova3 ? { nova3: { ...nova3, calls: opts.nova3Calls ?? 0 } } : {}),
    script: [...(opts.script ?? LATENCY_SCRIPT)],
    callsPerSystem: opts.calls,
    staggerMs: opts.staggerMs ?? DEFAULT_STAGGER_MS,
    warmup: opts.warmup ?? true,
    mediaNode,
    baseline,
    ratios: {
      voiceToVoiceP50: ratio(baseline.voiceToVoiceMs.p50, mediaNode.voiceToVoiceMs.p50),
      voiceToVoiceP99: ratio(baseline.voiceToVoiceMs.p99, mediaNode.voiceToVoiceMs.p99),
    },
  };
}
