// What a media node needs to run one agent version. The edge stores agent versions (Postgres) and
// compiles this shape; the media node receives it by agent version and prompt-prefix hash. It is a
// trust boundary in both directions, so it is a zod schema, and unknown fields are rejected.
import { z } from "zod";

export const MODEL_TIERS = ["opus", "sonnet", "haiku"] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

/**
 * Each tier maps to an ordered list of Bedrock model or inference-profile IDs. The first is preferred;
 * the rest are the fallbacks (another model, or the same model in another region's profile) tried when
 * Bedrock throttles or is unavailable.
 */
export const ModelPolicySchema = z
  .object({
    opus: z.array(z.string().min(1)).min(1),
    sonnet: z.array(z.string().min(1)).min(1),
    haiku: z.array(z.string().min(1)).min(1),
    /**
     * Turns that need neither Opus (thinking, high complexity, code) go to Sonnet rather than Haiku: the
     * rules apply in order, so this never keeps a hard turn off Opus.
     */
    latencySensitive: z.boolean().default(false),
    /**
     * Regions to try, in order, once every model of the tier has failed (after retries) in the node's
     * own region. A region may name its own inference profiles per tier (an `eu.` profile for an EU
     * region); a tier it does not name uses the tier's IDs above.
     */
    fallbackRegions: z
      .array(
        z
          .object({
            region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d{1,2}$/, "a Bedrock region such as us-west-2"),
            opus: z.array(z.string().min(1)).min(1).optional(),
            sonnet: z.array(z.string().min(1)).min(1).optional(),
            haiku: z.array(z.string().min(1)).min(1).optional(),
          })
          .strict(),
      )
      .max(4)
      .optional(),
  })
  .strict();
export type ModelPolicy = z.infer<typeof ModelPolicySchema>;

export const DEFAULT_MODEL_POLICY: ModelPolicy = {
  opus: ["us.anthropic.claude-opus-4-5-20251101-v1:0"],
  sonnet: ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"],
  haiku: ["us.anthropic.claude-haiku-4-5-20251001-v1:0"],
  latencySensitive: false,
};

export const BUILTIN_TOOLS = [
  "end_call",
  "transfer_call",
  "handoff_to_agent",
  "send_sms",
  "start_verification",
  "check_verification",
] as const;
export type BuiltinTool = (typeof BUILTIN_TOOLS)[number];

const E164_NUMBER = /^\+[1-9]\d{6,14}$/;

/**
 * What a built-in may reach, set by the tenant, never by the model: the model's arguments are checked against it
 * on the media node and again on the edge, which carries the action out.
 */
export const BuiltinAllowSchema = z
  .object({
    /**
     * transfer_call: the only numbers the call may be transferred to (the first is the default when the model names
     * none); without it the tool refuses. send_sms: numbers that may be texted besides the caller's own.
     */
    numbers: z.array(z.string().regex(E164_NUMBER, "an E.164 phone number")).max(20).optional(),
    /** handoff_to_agent: the agents (IDs, same tenant) this one may hand the call to; without it any of the tenant's. */
    agents: z.array(z.string().min(1).max(128)).max(20).optional(),
  })
  .strict();
export type BuiltinAllow = z.infer<typeof BuiltinAllowSchema>;

const JsonSchemaObject = z.record(z.string(), z.unknown());

export const ToolDefinitionSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, "tool names are letters, digits, _ and -"),
    description: z.string().min(1).max(4096),
    /** JSON Schema of the tool's input object. */
    inputSchema: JsonSchemaObject,
    /** Agent-defined tools call the tenant's webhook; built-ins are handled by the platform. */
    webhook: z
      .object({
        url: z.string().url(),
        timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
      })
      .strict()
      .optional(),
    builtin: z.enum(BUILTIN_TOOLS).optional(),
    /** Built-ins only. Not part of the prompt prefix: the model is told its choices in the description. */
    allow: BuiltinAllowSchema.optional(),
  })
  .strict()
  .refine((t) => (t.webhook ? 1 : 0) + (t.builtin ? 1 : 0) === 1, {
    message: "a tool is either a webhook tool or a built-in, exactly one",
  })
  .refine((t) => !t.allow || t.builtin, { message: "allow applies to built-in tools only" });
export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;

export const BargeInPolicySchema = z
  .object({
    /** Caller words needed, while the agent speaks, before the agent stops. Back-channels never count. */
    minWords: z.number().int().min(1).max(10).default(2),
    /** Caller speech duration needed before the agent stops. */
    minDurationMs: z.number().int().min(0).max(3_000).default(300),
    /**
     * Speech onset over the agent pauses its audio; with no interruption decided, it resumes once the caller has
     * been quiet this long (the back-channel decision's latency after the last voiced frame, plus a margin).
     */
    resumeAfterQuietMs: z.number().int().min(40).max(2_000).default(100),
    /**
     * The same once the caller has said words of their own, not yet enough to interrupt, or has started speaking
     * again after a resume in the same utterance (a back-channel is one burst): the pause holds through the gaps
     * between their words until the recognizer's final (endpointing, 300 ms) has had time to decide.
     */
    resumeAfterWordsQuietMs: z.number().int().min(40).max(3_000).default(450),
    /** The longest the agent is held paused on sound that never passes the thresholds (noise, a long echo). */
    maxPauseMs: z.number().int().min(200).max(5_000).default(1_500),
    backchannels: z
      .array(z.string())
      .default(["uh-huh", "uh huh", "mm-hmm", "mhm", "okay", "ok", "right", "yeah", "yes", "sure", "got it"]),
  })
  .strict();
export type BargeInPolicy = z.infer<typeof BargeInPolicySchema>;

/** Speech recognisers a call can use. See docs/media-node.md ("Choosing a recogniser"). */
export const RECOGNIZERS = ["flux", "nova-3"] as const;
export type Recognizer = (typeof RECOGNIZERS)[number];

/**
 * How the agent decides the caller has finished. With Flux the recogniser judges the end of a turn from the words
 * and the silence (semantic thresholds below); with Nova-3 the end is silence alone, and the media node holds a
 * turn whose words end unfinished ("my number is", "um", digits still being read out) for up to
 * `completenessHoldMs` of more speech.
 */
export const TurnTakingSchema = z
  .object({
    /** Flux: an eager end of turn starts a speculative reply; null turns speculation on Flux off. 0.3-0.9. */
    eagerEotThreshold: z.number().min(0.3).max(0.9).nullable().default(0.5),
    /** Flux: confidence needed to end the turn. Higher waits longer and cuts fewer callers off. 0.5-0.9. */
    eotThreshold: z.number().min(0.5).max(0.9).default(0.7),
    /** Flux: the longest silence after speech before the turn ends whatever the confidence. */
    eotTimeoutMs: z.number().int().min(500).max(10_000).default(5_000),
    /** Nova-3: the longest wait for more speech after a final whose words end unfinished. */
    completenessHoldMs: z.number().int().min(0).max(5_000).default(1_500),
  })
  .strict()
  .refine((t) => t.eagerEotThreshold === null || t.eagerEotThreshold <= t.eotThreshold, {
    message: "eagerEotThreshold must not exceed eotThreshold",
    path: ["eagerEotThreshold"],
  });
export type TurnTaking = z.infer<typeof TurnTakingSchema>;
/**
 * What happens after a call: a summary, a pass/fail against the agent's own rubric, and data extracted against
 * the agent's JSON Schema. Runs off the call path on the cheapest tier of the agent's model policy. Absent: no
 * analysis (and no analysis tokens billed).
 */
export const PostCallAnalysisSchema = z
  .object({
    /** What the summary should cover; the platform's default asks for two or three plain sentences. */
    summaryInstructions: z.string().min(1).max(4_000).optional(),
    /** The agent's own definition of a successful call. Absent: no success evaluation. */
    successRubric: z.string().min(1).max(4_000).optional(),
    /**
     * JSON Schema (an object schema) the extracted data must satisfy, e.g. `{ appointment_date, customer_name,
     * callback_number }`. The model's extraction is validated against it before it is stored; one that fails is
     * refused and the reasons are kept instead.
     */
    dataSchema: JsonSchemaObject.refine((s) => s.type === "object" && typeof s.properties === "object", {
      message: 'the data schema is a JSON Schema object: { "type": "object", "properties": { … } }',
    }).optional(),
  })
  .strict();
export type PostCallAnalysis = z.infer<typeof PostCallAnalysisSchema>;

export const AgentRuntimeConfigSchema = z
  .object({
    tenantId: z.string().min(1),
    agentId: z.string().min(1),
    version: z.number().int().min(1),
    systemPrompt: z.string().min(1).max(100_000),
    firstMessage: z.string().max(2_000).nullable().default(null),
    voice: z.string().min(1).default("aura-2-thalia-en"),
    /** Used when the main voice fails to synthesize. */
    fallbackVoice: z.string().min(1).default("aura-2-andromeda-en"),
    language: z.string().min(2).default("en"),
    modelPolicy: ModelPolicySchema.default(DEFAULT_MODEL_POLICY),
    tools: z.array(ToolDefinitionSchema).max(64).default([]),
    /** Extended thinking budget in tokens; 0 turns thinking off. */
    thinkingBudgetTokens: z
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 1_024 && n <= 64_000), "thinking budget is 0 (off) or 1024..64000")
      .default(0),
    maxTokens: z.number().int().min(64).max(64_000).default(1_024),
    bargeIn: BargeInPolicySchema.prefault({}),
    /** Spoken at once when a turn needs a tool or extended thinking; pre-synthesized per voice. */
    acknowledgement: z.string().min(1).max(200).default("Let me check that for you."),
    /** Keyterms sent to speech recognition to bias it towards the tenant's vocabulary. */
    keyterms: z.array(z.string().min(1).max(100)).max(100).default([]),
    /** Deepgram Flux (turns judged by the recogniser; the default) or Nova-3 (endpointing; more languages). */
    recognizer: z.enum(RECOGNIZERS).default("flux"),
    turnTaking: TurnTakingSchema.prefault({}),
    /** Post-call analysis; absent or null: none (null turns it off in a PATCH). */
    analysis: PostCallAnalysisSchema.nullable().optional(),
  })
  .strict();
export type AgentRuntimeConfig = z.infer<typeof AgentRuntimeConfigSchema>;
