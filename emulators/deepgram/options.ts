// The Deepgram emulator's options and latency profiles, read from the caller or the environment and checked once:
// a bad option fails at start, not as a strange stream later.
import { z } from "zod";
import type { VoiceEngine } from "./synth.ts";

export interface LatencyProfile {
  /** Extra delay of final results after end of speech, beyond the endpointing silence. */
  sttFinalDelayMs: number;
  /** Time from Flush (or REST request) to the first audio byte. */
  ttsFirstByteMs: number;
  /** Audio seconds streamed per wall-clock second; default 4 (faster than real time, like the service). */
  ttsRealtimeFactor?: number;
  /**
   * Flux: silence after a finished line (stream time) before EagerEndOfTurn at eager_eot_threshold 0.5, and before
   * EndOfTurn at eot_threshold 0.7. Other thresholds move along the same curve. Default 150 and 350.
   */
  fluxEagerMs?: number;
  fluxEotMs?: number;
}

export const LATENCY_PROFILES = {
  instant: { sttFinalDelayMs: 0, ttsFirstByteMs: 0 },
  realistic: { sttFinalDelayMs: 150, ttsFirstByteMs: 120, fluxEagerMs: 150, fluxEotMs: 350 },
} as const satisfies Record<string, LatencyProfile>;

/** Flux's turn delays are silence the caller makes, in the audio, so every profile keeps the service's own. */
export const FLUX_EAGER_MS = 150;
export const FLUX_EOT_MS = 350;

export const DEFAULT_TTS_REALTIME_FACTOR = 4;

export interface DeepgramEmulatorOptions {
  /** Loopback only: "127.0.0.1" (default), "::1" or "localhost". */
  host?: string;
  /** Default: DEEPGRAM_EMULATOR_PORT or 8091; 0 picks a free port. */
  port?: number;
  /** Accepted keys/tokens; by default any non-empty token except the literal "invalid". */
  apiKeys?: string[];
  /** Default: DEEPGRAM_EMULATOR_LATENCY (JSON, e.g. {"sttFinalDelayMs":150,"ttsFirstByteMs":120}), else EMULATOR_PROFILE, else "instant". */
  profile?: LatencyProfile | "instant" | "realistic";
  /** Close a listen stream with 1011/NET-0001 after this long without audio or text. */
  silenceTimeoutMs?: number;
  /** Voice for TTS; "auto" uses espeak-ng when installed. */
  voice?: VoiceEngine | "auto";
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

const ProfileName = z.enum(["instant", "realistic"]);
const ProfileObject = z.object({
  sttFinalDelayMs: z.number().min(0).max(60_000),
  ttsFirstByteMs: z.number().min(0).max(60_000),
  ttsRealtimeFactor: z.number().min(0).optional(),
  // Never faster than the service: these are floors.
  fluxEagerMs: z.number().min(FLUX_EAGER_MS).max(60_000).optional(),
  fluxEotMs: z.number().min(FLUX_EOT_MS).max(60_000).optional(),
});
const Options = z.object({
  host: z.string().refine((h) => LOOPBACK.has(h), { error: "the Deepgram emulator binds to loopback only" }),
  port: z.number().int().min(0).max(65_535),
  apiKeys: z.array(z.string().min(1)).optional(),
  profile: z.union([ProfileName, ProfileObject]),
  silenceTimeoutMs: z.number().int().positive(),
  voice: z.enum(["auto", "espeak-ng", "synthetic"]),
});

/** A standalone emulator's latencies, set from outside as JSON; validated with the options below. */
function latencyFromEnv(): unknown {
  const raw = process.env.DEEPGRAM_EMULATOR_LATENCY;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new Error("Deepgram emulator options: DEEPGRAM_EMULATOR_LATENCY is not valid JSON");
  }
}

export function resolveOptions(options: DeepgramEmulatorOptions) {
  const envPort = process.env.DEEPGRAM_EMULATOR_PORT;
  const parsed = Options.safeParse({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? Number(envPort ?? 8091),
    apiKeys: options.apiKeys,
    profile: options.profile ?? latencyFromEnv() ?? process.env.EMULATOR_PROFILE ?? "instant",
    silenceTimeoutMs: options.silenceTimeoutMs ?? 10_000,
    voice: options.voice ?? "auto",
  });
  if (!parsed.success) throw new Error(`Deepgram emulator options: ${z.prettifyError(parsed.error)}`);
  const o = parsed.data;
  const base: LatencyProfile = typeof o.profile === "string" ? LATENCY_PROFILES[o.profile] : o.profile;
  const profile: Required<LatencyProfile> = {
    sttFinalDelayMs: base.sttFinalDelayMs,
    ttsFirstByteMs: base.ttsFirstByteMs,
    ttsRealtimeFactor: base.ttsRealtimeFactor ?? DEFAULT_TTS_REALTIME_FACTOR,
    fluxEagerMs: "fluxEagerMs" in base && base.fluxEagerMs !== undefined ? base.fluxEagerMs : FLUX_EAGER_MS,
    fluxEotMs: "fluxEotMs" in base && base.fluxEotMs !== undefined ? base.fluxEotMs : FLUX_EOT_MS,
  };
  if (profile.fluxEotMs <= profile.fluxEagerMs) {
    throw new Error("Deepgram emulator options: fluxEotMs must be longer than fluxEagerMs");
  }
  return { ...o, profile, profileName: typeof o.profile === "string" ? o.profile : "custom" };
}
