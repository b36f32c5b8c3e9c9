// The analyzer the edge's queue consumer runs, constructed directly and pointed at the Bedrock emulator over
// HTTP/1.1 with a SigV4-signed fetch (aws4fetch), as workerd sends it. The emulator answers analyses
// deterministically from the transcript and schema, so every field is predictable.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { DEFAULT_MODEL_POLICY, type PostCallAnalysis } from "../../../shared/agent-config.ts";
import { ANALYSIS_TOOL, analyzeCall, type TranscriptLine } from "../../../workers/src/analysis/analyze.ts";
import { BedrockError, bedrockConverse } from "../../../workers/src/analysis/bedrock.ts";

const HAIKU_US = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const HAIKU_EU = "eu.anthropic.claude-haiku-4-5-20251001-v1:0";
const policy = { ...DEFAULT_MODEL_POLICY, haiku: [HAIKU_US, HAIKU_EU] };

const transcript: TranscriptLine[] = [
  { speaker: "agent", text: "Thanks for calling Acme Dental, how can I help?", interrupted: false },
  { speaker: "caller", text: "Hi, this is Maria Lopez, I'd like an appointment next Tuesday.", interrupted: false },
  { speaker: "agent", text: "Sure, what number can we call you back on if anything", interrupted: true },
  { speaker: "caller", text: "You can reach me at 415 555 0199.", interrupted: false },
  { speaker: "agent", text: "You're booked for next Tuesday. Goodbye!", interrupted: false },
];

const dataSchema = {
  type: "object",
  properties: {
    appointment_date: { type: "string" },
    customer_name: { type: "string" },
    callback_number: { type: "string", pattern: "^\\+?[0-9]{10,15}$" },
  },
  required: ["customer_name", "callback_number"],
  additionalProperties: false,
};

let bedrock: BedrockEmulator;
let converse: ReturnType<typeof bedrockConverse>;

beforeAll(async () => {
  bedrock = await startBedrockEmulator({ port: 0, profile: "instant" });
  converse = bedrockConverse({ region: "us-east-1", endpoint: bedrock.url, accessKeyId: "k", secretAccessKey: "s" });
});
afterAll(() => bedrock?.close());
beforeEach(() => bedrock.reset());

const analyze = (config: PostCallAnalysis, lines = transcript) =>
  analyzeCall(converse, { config, policy, transcript: lines, metadata: { callId: "call_test" } });

describe("post-call analysis", () => {
  it("summarizes, evaluates the rubric and extracts the agent's fields on the cheapest tier", async () => {
    const result = await analyze({ successRubric: 'Successful when the agent confirms with "booked".', dataSchema });
    expect(result.modelId).toBe(HAIKU_US);
    expect(result.summary).toContain('"Hi, this is Maria Lopez');
    expect(result.success).toEqual({ pass: true, reason: 'The call contains "booked".' });
    expect(result.data).toEqual({
      appointment_date: "next Tuesday",
      customer_name: "Maria Lopez",
      callback_number: "4155550199",
    });
    expect(result.dataErrors).toBeNull();
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);

    const [request] = bedrock.requests();
    expect(request?.operation).toBe("Converse");
    expect(request?.modelId).toBe(HAIKU_US);
    const body = request?.body as { toolConfig: { toolChoice: unknown }; messages: { content: { text: string }[] }[] };
    expect(body.toolConfig.toolChoice).toEqual({ tool: { name: ANALYSIS_TOOL } });
    // The transcript as heard: the interrupted reply is what the caller heard, and says so.
    expect(body.messages[0]?.content[0]?.text).toContain(
      "Agent: Sure, what number can we call you back on if anything [cut off by the caller]",
    );
  });

  it("fails the rubric when the call lacks what it requires", async () => {
    const result = await analyze({ successRubric: 'Successful only when the caller says "cancel".' });
    expect(result.success).toEqual({ pass: false, reason: 'The call never contains "cancel".' });
    expect(result.data).toBeNull();
  });

  it("refuses an extraction that does not satisfy the schema and keeps the reason instead", async () => {
    const strict = {
      ...dataSchema,
      properties: { ...dataSchema.properties, callback_number: { type: "string", pattern: "^\\+1[0-9]{10}$" } },
    };
    const result = await analyze({ dataSchema: strict });
    expect(result.summary).toMatch(/Maria Lopez/);
    expect(result.data).toBeNull();
    expect(result.dataErrors?.join("\n")).toMatch(/#\/callback_number: .*pattern/);
  });

  it("refuses a required field the caller never said (the model answers null)", async () => {
    const result = await analyze({ dataSchema }, transcript.slice(0, 2));
    expect(result.data).toBeNull();
    expect(result.dataErrors?.join("\n")).toMatch(/callback_number/);
  });

  it("moves to the tier's next model when the first is throttled", async () => {
    bedrock.injectFault({ kind: "ThrottlingException", count: 1, modelId: HAIKU_US });
    const result = await analyze({});
    expect(result.modelId).toBe(HAIKU_EU);
    expect(result.success).toBeNull();
  });

  it("throws a retryable error when every model of the tier is unavailable", async () => {
    bedrock.injectFault({ kind: "ServiceUnavailableException", count: 2 });
    const error = await analyze({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BedrockError);
    expect((error as BedrockError).retryable).toBe(true);
  });
});
