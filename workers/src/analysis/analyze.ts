// One post-call analysis: the transcript as the caller heard it goes to the cheapest model of the agent's policy
// with one forced tool whose input is the analysis (summary, pass/fail against the agent's rubric, the agent's
// data schema). The model's extraction is checked against that schema here, before anything is stored: data that
// does not satisfy it is refused and the reasons are kept instead.
import { Validator } from "@cfworker/json-schema";
import { z } from "zod";
import type { ModelPolicy, PostCallAnalysis } from "../../../shared/agent-config.ts";
import type { ConverseResponse } from "./bedrock.ts";

/** The forced tool's name; the Bedrock emulator answers it deterministically (docs/emulators-bedrock.md). */
export const ANALYSIS_TOOL = "record_call_analysis";

export interface TranscriptLine {
  speaker: "caller" | "agent";
  text: string;
  /** The agent was cut off: `text` is what the caller heard. */
  interrupted: boolean;
}

export interface AnalysisResult {
  modelId: string;
  summary: string;
  /** null: the agent has no rubric. */
  success: { pass: boolean; reason: string } | null;
  /** null: no data schema, or the extraction was refused (see dataErrors). */
  data: Record<string, unknown> | null;
  /** Why the extraction was refused; null when it was accepted or not asked for. */
  dataErrors: string[] | null;
  usage: { inputTokens: number; outputTokens: number };
}

export type Converse = (modelId: string, body: unknown) => Promise<ConverseResponse>;

const DEFAULT_SUMMARY = "Summarize the call in two or three plain sentences: why the caller called and how it ended.";

/** The cheapest tier of the policy: Haiku's models, in the policy's order (the rest are fallbacks). */
export function analysisModels(policy: ModelPolicy): string[] {
  return [...policy.haiku];
}

export function transcriptText(lines: TranscriptLine[]): string {
  return lines
    .map(
      (l) =>
        `${l.speaker === "caller" ? "Caller" : "Agent"}: ${l.text}${l.interrupted ? " [cut off by the caller]" : ""}`,
    )
    .join("\n");
}

export function analysisRequest(
  config: PostCallAnalysis,
  lines: TranscriptLine[],
  metadata: Record<string, string>,
): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    summary: { type: "string", description: config.summaryInstructions ?? DEFAULT_SUMMARY },
  };
  const required = ["summary"];
  if (config.successRubric) {
    properties.success = {
      type: "object",
      description: "Did the call meet the rubric? pass is true or false; reason cites what in the call decided it.",
      properties: { pass: { type: "boolean" }, reason: { type: "string" } },
      required: ["pass", "reason"],
    };
    required.push("success");
  }
  if (config.dataSchema) {
    properties.data = {
      ...config.dataSchema,
      description:
        "Values the caller or agent actually said in the call. Leave out any field that was not said; never guess.",
    };
    required.push("data");
  }
  const system = [
    "You analyse a finished phone call between a caller and an AI voice agent, from its transcript.",
    `Call the ${ANALYSIS_TOOL} tool exactly once with your analysis.`,
    config.successRubric
      ? `Success rubric (the business's own definition of a successful call):\n${config.successRubric}`
      : "",
  ]
    .filter(Boolean)
    .join("\n\n");
  return {
    system: [{ text: system }],
    messages: [
      { role: "user", content: [{ text: `The call's transcript:\n\n${transcriptText(lines) || "(nobody spoke)"}` }] },
    ],
    toolConfig: {
      tools: [
        {
          toolSpec: {
            name: ANALYSIS_TOOL,
            description: "Record the analysis of the call.",
            inputSchema: { json: { type: "object", properties, required } },
          },
        },
      ],
      toolChoice: { tool: { name: ANALYSIS_TOOL } },
    },
    inferenceConfig: { maxTokens: 2_048, temperature: 0 },
    requestMetadata: metadata,
  };
}

const ToolInputSchema = z.object({
  summary: z.string().min(1).max(10_000),
  success: z.object({ pass: z.boolean(), reason: z.string().min(1).max(4_000) }).optional(),
  data: z.unknown().optional(),
});

/** The model answered, but not with a usable analysis. Not retried; its tokens were still spent. */
export class AnalysisRefused extends Error {
  override name = "AnalysisRefused";
  constructor(
    message: string,
    readonly modelId: string,
    readonly usage: { inputTokens: number; outputTokens: number },
  ) {
    super(message);
  }
}

/** Checks the model's extraction against the agent's schema; returns the reasons it fails (empty: it is valid). */
export function validateExtraction(schema: Record<string, unknown>, data: unknown): string[] {
  const result = new Validator(schema as never, "2020-12", false).validate(data);
  if (result.valid) return [];
  // The validator reports each failing keyword and every schema above it; the leaves say what is wrong.
  const leaves = result.errors.filter(
    (e) => !result.errors.some((o) => o !== e && o.keywordLocation.startsWith(`${e.keywordLocation}/`)),
  );
  return [...new Set(leaves.map((e) => `${e.instanceLocation || "#"}: ${e.error}`))].slice(0, 20);
}

export async function analyzeCall(
  converse: Converse,
  input: {
    config: PostCallAnalysis;
    policy: ModelPolicy;
    transcript: TranscriptLine[];
    metadata: Record<string, string>;
  },
): Promise<AnalysisResult> {
  const body = analysisRequest(input.config, input.transcript, input.metadata);
  const models = analysisModels(input.policy);
  let lastError: unknown;
  for (const modelId of models) {
    let response: ConverseResponse;
    try {
      response = await converse(modelId, body);
    } catch (error) {
      // The next model of the tier may be available; the queue retries the whole analysis if none is.
      lastError = error;
      continue;
    }
    return resultOf(modelId, response, input.config);
  }
  throw lastError ?? new Error("the agent's policy names no model for analysis");
}

function resultOf(modelId: string, response: ConverseResponse, config: PostCallAnalysis): AnalysisResult {
  const block = response.output.message.content.find(
    (b) => typeof b.toolUse === "object" && (b.toolUse as { name?: unknown }).name === ANALYSIS_TOOL,
  );
  const usage = { inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens };
  if (!block) throw new AnalysisRefused(`the model did not call ${ANALYSIS_TOOL}`, modelId, usage);
  const parsed = ToolInputSchema.safeParse((block.toolUse as { input?: unknown }).input);
  if (!parsed.success)
    throw new AnalysisRefused(`the model's analysis is malformed: ${parsed.error.issues[0]?.message}`, modelId, usage);
  const out = parsed.data;
  let data: Record<string, unknown> | null = null;
  let dataErrors: string[] | null = null;
  if (config.dataSchema) {
    const errors = validateExtraction(config.dataSchema, out.data);
    if (errors.length === 0) data = out.data as Record<string, unknown>;
    else dataErrors = errors;
  }
  return {
    modelId,
    summary: out.summary,
    success: config.successRubric && out.success ? out.success : null,
    data,
    dataErrors,
    usage,
  };
}
