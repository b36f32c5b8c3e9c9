// The Converse / ConverseStream request body's shape, as the service's Smithy model gives it: content blocks and
// tools are unions of optional members (validation checks that exactly one is set), inferenceConfig carries ranges.
import { z } from "zod";

const CachePointSchema = z.object({ type: z.literal("default"), ttl: z.enum(["5m", "1h"]).optional() });
export type CachePoint = z.infer<typeof CachePointSchema>;

const ToolResultContentSchema = z.object({
  json: z.unknown().optional(),
  text: z.string().optional(),
  image: z.unknown().optional(),
  document: z.unknown().optional(),
  video: z.unknown().optional(),
});

const ContentBlockSchema = z.object({
  text: z.string().optional(),
  image: z
    .object({ format: z.enum(["png", "jpeg", "gif", "webp"]), source: z.record(z.string(), z.unknown()) })
    .optional(),
  document: z.record(z.string(), z.unknown()).optional(),
  video: z.record(z.string(), z.unknown()).optional(),
  audio: z.record(z.string(), z.unknown()).optional(),
  toolUse: z
    .object({
      toolUseId: z.string().min(1).max(64),
      name: z.string().min(1).max(64),
      input: z.unknown(),
      type: z.string().optional(),
    })
    .optional(),
  toolResult: z
    .object({
      toolUseId: z.string().min(1).max(64),
      content: z.array(ToolResultContentSchema),
      status: z.enum(["success", "error"]).optional(),
      type: z.string().optional(),
    })
    .optional(),
  guardContent: z.record(z.string(), z.unknown()).optional(),
  cachePoint: CachePointSchema.optional(),
  reasoningContent: z
    .object({
      reasoningText: z.object({ text: z.string(), signature: z.string().optional() }).optional(),
      redactedContent: z.string().optional(),
    })
    .optional(),
  citationsContent: z.record(z.string(), z.unknown()).optional(),
  searchResult: z.record(z.string(), z.unknown()).optional(),
});
export type ContentBlock = z.infer<typeof ContentBlockSchema>;

const MessageSchema = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.array(ContentBlockSchema),
});
export type Message = z.infer<typeof MessageSchema>;

const SystemBlockSchema = z.object({
  text: z.string().optional(),
  guardContent: z.record(z.string(), z.unknown()).optional(),
  cachePoint: CachePointSchema.optional(),
});
export type SystemBlock = z.infer<typeof SystemBlockSchema>;

const ToolSpecSchema = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"),
  description: z.string().min(1).optional(),
  inputSchema: z.object({ json: z.record(z.string(), z.unknown()).optional() }),
  strict: z.boolean().optional(),
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

const ToolSchema = z.object({
  toolSpec: ToolSpecSchema.optional(),
  systemTool: z.object({ name: z.string() }).optional(),
  cachePoint: CachePointSchema.optional(),
});
export type Tool = z.infer<typeof ToolSchema>;

const ToolChoiceSchema = z.object({
  auto: z.object({}).optional(),
  any: z.object({}).optional(),
  tool: z.object({ name: z.string().min(1) }).optional(),
});

export const ConverseRequestSchema = z.object({
  messages: z.array(MessageSchema).optional(),
  system: z.array(SystemBlockSchema).optional(),
  inferenceConfig: z
    .object({
      maxTokens: z.number().int().min(1, "Member must have value greater than or equal to 1").optional(),
      temperature: z
        .number()
        .min(0, "Member must have value greater than or equal to 0")
        .max(1, "Member must have value less than or equal to 1")
        .optional(),
      topP: z
        .number()
        .min(0, "Member must have value greater than or equal to 0")
        .max(1, "Member must have value less than or equal to 1")
        .optional(),
      stopSequences: z.array(z.string().min(1)).max(2500).optional(),
    })
    .optional(),
  toolConfig: z
    .object({
      tools: z.array(ToolSchema).min(1, "Member must have length greater than or equal to 1"),
      toolChoice: ToolChoiceSchema.optional(),
    })
    .optional(),
  guardrailConfig: z.record(z.string(), z.unknown()).optional(),
  additionalModelRequestFields: z.record(z.string(), z.unknown()).optional(),
  additionalModelResponseFieldPaths: z.array(z.string()).optional(),
  promptVariables: z.record(z.string(), z.unknown()).optional(),
  requestMetadata: z
    .record(z.string().min(1).max(256), z.string().max(256))
    .refine((m) => Object.keys(m).length <= 16, "Member must have length less than or equal to 16")
    .optional(),
  performanceConfig: z.object({ latency: z.enum(["standard", "optimized"]) }).optional(),
  serviceTier: z.object({ type: z.enum(["priority", "default", "flex", "reserved"]) }).optional(),
  outputConfig: z.record(z.string(), z.unknown()).optional(),
});
export type ConverseRequest = z.infer<typeof ConverseRequestSchema>;
