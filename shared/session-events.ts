// What a media node tells the call's CallLedger (on the edge) about a live call. The media node keeps
// nothing durable; these events are the record. The edge validates them with these schemas (a trust
// boundary: a compromised or buggy node must not write arbitrary shapes into Postgres) and stores them
// through its outbox.
import { z } from "zod";

const epochMs = z.number().int().nonnegative();
const durationMs = z.number().nonnegative();
const callId = z.string().min(1).max(128);
/** Per call, counting from 0 in publish order: the edge stores each (callId, seq) once, so retries are idempotent. */
const seq = z.number().int().nonnegative();

export const TRANSPORTS = ["twilio", "telnyx", "web"] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const CallStartedEventSchema = z
  .object({
    type: z.literal("call.started"),
    callId,
    seq,
    tenantId: z.string().min(1).max(128),
    agentId: z.string().min(1).max(128),
    agentVersion: z.number().int().nonnegative(),
    region: z.string().min(1).max(64),
    nodeId: z.string().min(1).max(128),
    transport: z.enum(TRANSPORTS),
    /** The carrier's own stream/call identifiers, for support; never used for trust. */
    carrier: z.object({ streamId: z.string().max(128).optional(), callRef: z.string().max(256).optional() }).strict(),
    at: epochMs,
  })
  .strict();

/**
 * One turn's latency waterfall. Timestamps are epoch milliseconds (absent when the stage did not happen,
 * e.g. no TTS on a turn that was interrupted before speaking); durations are derived from them.
 */
export const TurnWaterfallSchema = z
  .object({
    speechEndAt: epochMs.optional(),
    sttFinalAt: epochMs.optional(),
    llmRequestAt: epochMs.optional(),
    llmFirstTokenAt: epochMs.optional(),
    ttsFirstByteAt: epochMs.optional(),
    firstAudioOutAt: epochMs.optional(),
    /** Speech end → STT final. */
    sttMs: durationMs.optional(),
    /** LLM request → first token. */
    llmFirstTokenMs: durationMs.optional(),
    /** First clause handed to TTS → its first audio byte. */
    ttsFirstByteMs: durationMs.optional(),
    /** Speech end → first audio frame out: what the caller feels. */
    firstAudioMs: durationMs.optional(),
    /** Time on the critical path not spent waiting on STT, the LLM or TTS. */
    platformOverheadMs: durationMs.optional(),
    /** What played first: the model's words, the cached acknowledgement, or a filler line. */
    firstAudioSource: z.enum(["speech", "acknowledgement", "filler", "apology"]).optional(),
    /** The model opened its first tool call. */
    toolCallOpenedAt: epochMs.optional(),
    /** The acknowledgement's first frame left for the caller. */
    acknowledgementOutAt: epochMs.optional(),
    /**
     * What the acknowledgement answers → its first frame out: the turn confirmed (STT final) on a turn sent to
     * extended thinking, the model opening the tool call on a tool turn.
     */
    acknowledgementMs: durationMs.optional(),
    /** The caller's speech onset paused the agent's audio (the last such pause in this turn). */
    pausedAt: epochMs.optional(),
    /** That pause ended in a resume (a back-channel, a cough, echo): playback went on from where it stopped. */
    resumedAt: epochMs.optional(),
    /** That pause → its decision (resume, or the interruption's clear). */
    pauseToDecisionMs: durationMs.optional(),
    /** Pauses in this turn (each resumed but possibly the last). */
    pauses: z.number().int().min(0).max(10_000).optional(),
    /**
     * Turn detection's wait: end of speech → the model request of the reply that played. Negative when that reply
     * was asked for before speech ended was judged (a speculative reply is asked at the eager end, so this is small).
     */
    turnDetectionMs: z.number().finite().optional(),
    /** The model's first token → the first clause handed to TTS. */
    firstClauseMs: durationMs.optional(),
    /** The reply that played was started speculatively (on an eager end of turn) and committed. */
    speculative: z.boolean().optional(),
    /** Speculative replies started in this turn (at most 3), and those aborted (the caller went on, or the text changed). */
    speculativeStarts: z.number().int().nonnegative().optional(),
    speculativeWasted: z.number().int().nonnegative().optional(),
    /** The played reply's first clause was synthesized during speculation, its audio held until the confirmation. */
    speculativeAudio: z.boolean().optional(),
    /** That clause's first audio → the turn confirmed: positive when it was ready and waiting, negative when later. */
    audioReadyBeforeConfirmMs: z.number().finite().optional(),
  })
  .strict();
export type TurnWaterfall = z.infer<typeof TurnWaterfallSchema>;

/** One model's token usage within a turn, as the model's own metadata event reported it. */
export const LlmUsageEntrySchema = z
  .object({
    modelId: z.string().min(1).max(256),
    speculative: z.boolean().default(false),
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    cacheReadInputTokens: z.number().int().nonnegative(),
    cacheWriteInputTokens: z.number().int().nonnegative(),
  })
  .strict();
export type LlmUsageEntry = z.infer<typeof LlmUsageEntrySchema>;

/** The platform's own lines (not the model's words) a turn can speak. */
/** `bridge`: the first words of a call resumed on another media node after its node was lost. */
export const SPOKEN_LINE_SOURCES = ["acknowledgement", "filler", "apology", "goodbye", "bridge"] as const;
export interface SpokenLine {
  source: (typeof SPOKEN_LINE_SOURCES)[number];
  text: string;
}

export const TurnEventSchema = z
  .object({
    type: z.literal("turn"),
    callId,
    seq,
    /** 0 is the agent's greeting (when it has one); caller turns count from 1. */
    index: z.number().int().nonnegative(),
    userText: z.string().max(20_000),
    /** What the caller heard, cut at the interruption when there was one. */
    assistantText: z.string().max(50_000),
    /** What the model produced, before any cut. */
    generatedText: z.string().max(50_000),
    interrupted: z.boolean(),
    /** Interrupted turns: detection of the caller's speech → the carrier `clear` sent. */
    clearDelayMs: durationMs.optional(),
    thinking: z.boolean(),
    tools: z
      .array(
        z
          .object({
            id: z.string().max(128),
            name: z.string().max(64),
            ok: z.boolean(),
            ms: durationMs,
          })
          .strict(),
      )
      .max(64),
    modelIds: z.array(z.string().max(256)).max(16),
    tier: z.string().max(32).optional(),
    usage: z
      .object({
        inputTokens: z.number().int().nonnegative(),
        outputTokens: z.number().int().nonnegative(),
        cacheReadInputTokens: z.number().int().nonnegative(),
        cacheWriteInputTokens: z.number().int().nonnegative(),
      })
      .strict(),
    /**
     * The same usage per model request, for pricing: one entry per model (and per kind: a speculative request
     * started before the caller finished, whether or not its reply was used). Optional while nodes that only
     * report `usage` exist; the edge then bills `usage` to the turn's first model, as not speculative.
     */
    llmUsage: z.array(LlmUsageEntrySchema).max(64).optional(),
    /** Characters sent to speech synthesis this turn (what TTS bills); absent: the edge counts `generatedText`. */
    ttsCharacters: z.number().int().nonnegative().optional(),
    /** The platform's own lines spoken in this turn (acknowledgement, filler, apology), in order. */
    lines: z
      .array(z.object({ source: z.enum(SPOKEN_LINE_SOURCES), text: z.string().max(2_000) }).strict())
      .max(32)
      .optional(),
    waterfall: TurnWaterfallSchema,
    at: epochMs,
  })
  .strict();
export type TurnEvent = z.infer<typeof TurnEventSchema>;

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "an E.164 phone number");
const historyMessage = z
  .object({ role: z.enum(["user", "assistant"]), content: z.array(z.unknown()).max(200) })
  .strict();

/** Actions the edge performs for the call (the node cannot: it has no carrier credentials). */
export const CallActionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("end_call"), reason: z.string().max(500).optional() }).strict(),
  z.object({ type: z.literal("transfer_call"), to: e164, reason: z.string().max(500).optional() }).strict(),
  z
    .object({
      type: z.literal("handoff_to_agent"),
      agentId: z.string().min(1).max(128),
      /** The version the call continues with, and its prefix hash, as the edge answered the handoff. */
      agentVersion: z.number().int().positive().optional(),
      prefixHash: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
      context: z
        .object({
          recentHistory: z.array(historyMessage).max(100),
          entities: z.record(z.string(), z.string()),
          intent: z.string().max(1000),
          reason: z.string().max(1000),
        })
        .strict(),
    })
    .strict(),
  z.object({ type: z.literal("send_sms"), to: e164, body: z.string().min(1).max(1600) }).strict(),
]);
export type CallActionEventAction = z.infer<typeof CallActionSchema>;

export const CallActionEventSchema = z
  .object({
    type: z.literal("action"),
    callId,
    seq,
    turnIndex: z.number().int().nonnegative(),
    action: CallActionSchema,
    at: epochMs,
  })
  .strict();

export const CALL_END_REASONS = [
  "caller-hung-up",
  "agent-ended",
  "drain-deadline",
  "slow-consumer",
  "provider-failure",
  "internal-error",
  "protocol-error",
] as const;

export const CallEndedEventSchema = z
  .object({
    type: z.literal("call.ended"),
    callId,
    seq,
    reason: z.enum(CALL_END_REASONS),
    detail: z.string().max(500).optional(),
    durationMs,
    turns: z.number().int().nonnegative(),
    at: epochMs,
  })
  .strict();

/**
 * Checkpoints: each finished piece of a turn, sent the moment it exists, so the call's CallLedger holds everything
 * the caller said and heard even if the node dies before the turn's `turn` event. The `turn` event still follows
 * and supersedes them (its text is the same or longer, with the waterfall). A resumed node starts from them.
 */
const turnIndex = z.number().int().nonnegative();
const entities = z
  .record(z.string().min(1).max(64), z.string().max(1_000))
  .refine((value) => Object.keys(value).length <= 64, "at most 64 entities");

/** The caller's words of turn `index`, final (end of turn), with what the node knows of the caller so far. */
export const CallerTurnFinalEventSchema = z
  .object({
    type: z.literal("turn.caller-final"),
    callId,
    seq,
    /** The index the turn's own `turn` event will carry. */
    index: turnIndex,
    text: z.string().max(20_000),
    /** Facts from the caller's words so far (order numbers, names…), the whole set each time. */
    entities: entities.optional(),
    /**
     * The earlier turn this one continues: the caller went on before hearing its reply, so the node folded the two
     * into one (this text leads with that turn's words). That turn has no record of its own; the edge drops its words.
     */
    folds: turnIndex.optional(),
    at: epochMs,
  })
  .strict();

/** The agent's reply of turn `index` as far as the caller has heard it: at each playback mark, the whole text so far. */
export const AgentTextHeardEventSchema = z
  .object({
    type: z.literal("turn.agent-heard"),
    callId,
    seq,
    index: turnIndex,
    /** Everything of this reply played out to the caller up to the mark, not a delta. */
    text: z.string().max(50_000),
    /** The carrier mark that confirmed it, for support. */
    mark: z.string().max(128).optional(),
    at: epochMs,
  })
  .strict();

export const SessionEventSchema = z.discriminatedUnion("type", [
  CallStartedEventSchema,
  TurnEventSchema,
  CallActionEventSchema,
  CallEndedEventSchema,
  CallerTurnFinalEventSchema,
  AgentTextHeardEventSchema,
]);
export type SessionEvent = z.infer<typeof SessionEventSchema>;
export type CallStartedEvent = z.infer<typeof CallStartedEventSchema>;
export type CallActionEvent = z.infer<typeof CallActionEventSchema>;
export type CallEndedEvent = z.infer<typeof CallEndedEventSchema>;
export type CallEndReason = (typeof CALL_END_REASONS)[number];
export type CallerTurnFinalEvent = z.infer<typeof CallerTurnFinalEventSchema>;
export type AgentTextHeardEvent = z.infer<typeof AgentTextHeardEventSchema>;
