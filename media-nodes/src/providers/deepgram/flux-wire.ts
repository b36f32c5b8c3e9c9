// The Flux (/v2/listen) wire format as the SDK's listen.v2 carries it: the connect parameters, the Configure
// message and its answer, the turn thresholds' valid ranges, and the TurnInfo message. No state: the session
// (flux-stt.ts) and the turn translation (flux-turns.ts) use these.
import type { DeepgramClient } from "@deepgram/sdk";
import { type SttOptions, TURN_THRESHOLD_LIMITS, type TurnThresholds } from "../types.ts";

/** Flux's own defaults, used when the options give no thresholds. */
export const FLUX_DEFAULT_THRESHOLDS: TurnThresholds = {
  eagerEotThreshold: null,
  eotThreshold: 0.7,
  eotTimeoutMs: 5_000,
};

export type FluxSocket = Awaited<ReturnType<DeepgramClient["listen"]["v2"]["connect"]>>;
export type FluxConnectArgs = Parameters<DeepgramClient["listen"]["v2"]["connect"]>[0];

/** Checks thresholds against Flux's ranges; returns the problem, or null. */
export function thresholdProblem(t: TurnThresholds): string | null {
  const L = TURN_THRESHOLD_LIMITS;
  if (t.eagerEotThreshold !== null) {
    if (!(t.eagerEotThreshold >= L.eagerEotThreshold.min && t.eagerEotThreshold <= L.eagerEotThreshold.max)) {
      return `eagerEotThreshold must be ${L.eagerEotThreshold.min}–${L.eagerEotThreshold.max} or null`;
    }
    if (t.eagerEotThreshold > t.eotThreshold) return "eagerEotThreshold must not exceed eotThreshold";
  }
  if (!(t.eotThreshold >= L.eotThreshold.min && t.eotThreshold <= L.eotThreshold.max)) {
    return `eotThreshold must be ${L.eotThreshold.min}–${L.eotThreshold.max}`;
  }
  if (!Number.isInteger(t.eotTimeoutMs) || t.eotTimeoutMs < L.eotTimeoutMs.min || t.eotTimeoutMs > L.eotTimeoutMs.max) {
    return `eotTimeoutMs must be an integer ${L.eotTimeoutMs.min}–${L.eotTimeoutMs.max}`;
  }
  return null;
}

/** One TurnInfo message (the fields we read). */
export interface TurnInfo {
  event: string;
  turn_index: number;
  audio_window_start: number;
  audio_window_end: number;
  transcript: string;
  words: { word: string; confidence: number; start?: number; end?: number }[];
  end_of_turn_confidence: number;
  trigger?: string;
}

/** The socket's parameters: the thresholds wanted now (a reconnect opens with them), and the SDK's own reconnect off. */
export function fluxConnectArgs(
  model: string,
  o: SttOptions,
  t: TurnThresholds,
  connectTimeoutMs: number,
): FluxConnectArgs {
  const args: FluxConnectArgs = {
    model,
    encoding: o.encoding,
    sample_rate: o.sampleRate,
    eot_threshold: t.eotThreshold,
    eot_timeout_ms: t.eotTimeoutMs,
    // Digits, as Nova-3's smart_format gives: an order number reaches the model as "48213".
    numerals: "true",
    reconnectAttempts: 0,
    shouldReconnect: () => false,
    connectionTimeoutInSeconds: connectTimeoutMs / 1000,
  };
  if (t.eagerEotThreshold !== null) args.eager_eot_threshold = t.eagerEotThreshold;
  if (o.keyterms && o.keyterms.length > 0) args.keyterm = o.keyterms;
  if (o.tag) args.tag = o.tag;
  if (model === "flux-general-multi" && !/^(multi|en)\b/i.test(o.language)) {
    args.language_hint = o.language.split("-")[0]?.toLowerCase() ?? o.language;
  }
  return args;
}

/** A Configure message's thresholds: only the ones changed (a null eager threshold cannot be sent). */
export function configureThresholds(change: Partial<TurnThresholds>): {
  eager_eot_threshold?: number;
  eot_threshold?: number;
  eot_timeout_ms?: number;
} {
  const thresholds: { eager_eot_threshold?: number; eot_threshold?: number; eot_timeout_ms?: number } = {};
  if (change.eagerEotThreshold !== undefined && change.eagerEotThreshold !== null) {
    thresholds.eager_eot_threshold = change.eagerEotThreshold;
  }
  if (change.eotThreshold !== undefined) thresholds.eot_threshold = change.eotThreshold;
  if (change.eotTimeoutMs !== undefined) thresholds.eot_timeout_ms = change.eotTimeoutMs;
  return thresholds;
}

/** The thresholds in force after a ConfigureSuccess (what it names; the rest as they were). */
export function thresholdsConfigured(message: Record<string, unknown>, before: TurnThresholds): TurnThresholds {
  const t = (message.thresholds ?? {}) as {
    eager_eot_threshold?: number;
    eot_threshold?: number;
    eot_timeout_ms?: number;
  };
  return {
    eagerEotThreshold: t.eager_eot_threshold ?? before.eagerEotThreshold,
    eotThreshold: t.eot_threshold ?? before.eotThreshold,
    eotTimeoutMs: t.eot_timeout_ms ?? before.eotTimeoutMs,
  };
}
