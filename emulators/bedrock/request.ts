// The Converse / ConverseStream request body, checked the way the service checks it: shape first (the
// Smithy model: unions hold exactly one member, ranges on inferenceConfig), then the conversation rules
// Bedrock enforces itself, then the rules Claude enforces (Bedrock forwards those as "The model returned
// the following errors: ..."). Wording follows the service where it is known; see docs/emulators-bedrock.md.
import type { z } from "zod";
import { type BedrockError, modelValidation, validation } from "./errors.ts";
import type { ModelInfo } from "./models.ts";
import {
  type ConverseRequest,
  ConverseRequestSchema,
  type Message,
  type SystemBlock,
  type ToolSpec,
} from "./request-schema.ts";
import { checkSignatures, checkThinkingReplayed, parseThinking, type Thinking } from "./thinking.ts";

export interface ValidatedRequest {
  body: ConverseRequest;
  messages: Message[];
  system: SystemBlock[];
  tools: ToolSpec[];
  toolChoice: { kind: "auto" } | { kind: "any" } | { kind: "tool"; name: string };
  maxTokens: number;
  stopSequences: string[];
  thinking: Thinking;
  scriptTag: string | null;
}

const MAX_CACHE_POINTS = 4;
const DEFAULT_MAX_TOKENS = 4096;

function onlyOneMember(block: Record<string, unknown>): string[] {
  return Object.entries(block)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
}

function describeZodIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join(".");
  return `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${issue.message}`;
}

/** Parse and check a request body. Throws the BedrockError the service sends. */
export function validateConverseRequest(raw: unknown, model: ModelInfo): ValidatedRequest {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw validation("Malformed input request, please reformat your input and try again.");
  }
  const parsed = ConverseRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw validation(first ? describeZodIssue(first) : "Malformed input request");
  }
  const body = parsed.data;
  const messages = body.messages ?? [];
  const system = body.system ?? [];
  let cachePoints = 0;

  // Bedrock's own conversation checks.
  system.forEach((block, i) => {
    const members = onlyOneMember(block);
    if (members.length !== 1) throw unionError(`system.${i}`, "SystemContentBlock", members);
    if (block.text !== undefined && block.text.trim() === "") {
      throw validation(
        `The text field in the SystemContentBlock object at system.${i} is blank. Add text to the text field, and try again.`,
      );
    }
    if (block.cachePoint) cachePoints++;
  });
  if (messages.length === 0 || messages[0]?.role !== "user") {
    throw validation(
      "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
    );
  }
  let usesTools = false;
  messages.forEach((message, i) => {
    if (i > 0 && messages[i - 1]?.role === message.role) {
      throw validation(
        "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.",
      );
    }
    if (message.content.length === 0) {
      throw validation(
        `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`,
      );
    }
    message.content.forEach((block, j) => {
      const members = onlyOneMember(block);
      if (members.length !== 1) throw unionError(`messages.${i}.content.${j}`, "ContentBlock", members);
      if (block.text !== undefined && block.text.trim() === "") {
        throw validation(
          `The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`,
        );
      }
      if (block.toolUse || block.toolResult) usesTools = true;
      if (block.cachePoint) cachePoints++;
    });
  });

  const toolEntries = body.toolConfig?.tools ?? [];
  const tools: ToolSpec[] = [];
  toolEntries.forEach((tool, i) => {
    const members = onlyOneMember(tool);
    if (members.length !== 1) throw unionError(`toolConfig.tools.${i}`, "Tool", members);
    if (tool.cachePoint) cachePoints++;
    if (tool.toolSpec) {
      if (!tool.toolSpec.inputSchema.json) {
        throw validation(
          `1 validation error detected: Value at 'toolConfig.tools.${i}.member.toolSpec.inputSchema' failed to satisfy constraint: Member must have exactly one of json set`,
        );
      }
      tools.push(tool.toolSpec);
    }
  });
  if (usesTools && !body.toolConfig) {
    throw validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.");
  }

  // What Claude itself refuses.
  const names = new Set<string>();
  tools.forEach((tool, i) => {
    if (names.has(tool.name)) throw modelValidation("tools: Tool names must be unique.");
    names.add(tool.name);
    if (tool.inputSchema.json?.type !== "object") {
      throw modelValidation(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
    }
  });
  if (cachePoints > MAX_CACHE_POINTS) {
    throw modelValidation(
      `A maximum of ${MAX_CACHE_POINTS} blocks with cache_control may be provided. Found ${cachePoints}.`,
    );
  }
  checkToolPairing(messages);

  const choice = body.toolConfig?.toolChoice;
  let toolChoice: ValidatedRequest["toolChoice"] = { kind: "auto" };
  if (choice) {
    const members = onlyOneMember(choice);
    if (members.length !== 1) throw unionError("toolConfig.toolChoice", "ToolChoice", members);
    if (choice.any) toolChoice = { kind: "any" };
    if (choice.tool) {
      if (!names.has(choice.tool.name)) {
        throw modelValidation(`tool_choice: Tool '${choice.tool.name}' not found in 'tools'`);
      }
      toolChoice = { kind: "tool", name: choice.tool.name };
    }
  }

  const inference = body.inferenceConfig ?? {};
  const maxTokens = inference.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, model.maxOutputTokens);
  if (maxTokens > model.maxOutputTokens) {
    throw validation(
      `The maximum tokens you requested exceeds the model limit of ${model.maxOutputTokens}. Try again with a maximum tokens value that is lower than ${model.maxOutputTokens}.`,
    );
  }

  const thinking = parseThinking(body.additionalModelRequestFields, model, maxTokens);
  if (thinking.kind !== "off") {
    if (inference.temperature !== undefined && inference.temperature !== 1) {
      throw modelValidation("`temperature` may only be set to 1 when thinking is enabled.");
    }
    if (inference.topP !== undefined && inference.topP < 0.95) {
      throw modelValidation("`top_p` must be unset or >= 0.95 when thinking is enabled.");
    }
    if (toolChoice.kind !== "auto") {
      throw modelValidation("Thinking may not be enabled when tool_choice forces tool use.");
    }
    checkThinkingReplayed(messages);
    // With thinking off, earlier reasoning blocks are dropped unread, so only here do signatures matter.
    checkSignatures(messages);
  }

  return {
    body,
    messages,
    system,
    tools,
    toolChoice,
    maxTokens,
    stopSequences: inference.stopSequences ?? [],
    thinking,
    scriptTag: body.requestMetadata?.scriptTag ?? null,
  };
}

function unionError(path: string, shape: string, members: string[]): BedrockError {
  return validation(
    members.length === 0
      ? `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${shape} must have exactly one member set`
      : `1 validation error detected: Value at '${path}' failed to satisfy constraint: ${shape} must have exactly one member set, found ${members.join(", ")}`,
  );
}

/** Each toolResult answers a toolUse of the message just before; each toolUse is answered right after. */
function checkToolPairing(messages: Message[]): void {
  messages.forEach((message, i) => {
    message.content.forEach((block, j) => {
      if (block.toolUse && message.role !== "assistant") {
        throw modelValidation(`messages.${i}.content.${j}: \`tool_use\` blocks can only be in \`assistant\` messages`);
      }
      if (block.toolResult && message.role !== "user") {
        throw modelValidation(`messages.${i}.content.${j}: \`tool_result\` blocks can only be in \`user\` messages`);
      }
    });
    if (message.role !== "user") return;
    const previous = messages[i - 1];
    const asked = new Set(previous?.content.flatMap((b) => (b.toolUse ? [b.toolUse.toolUseId] : [])) ?? []);
    message.content.forEach((block, j) => {
      if (block.toolResult && !asked.has(block.toolResult.toolUseId)) {
        throw modelValidation(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.toolResult.toolUseId}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    });
    const answered = new Set(message.content.flatMap((b) => (b.toolResult ? [b.toolResult.toolUseId] : [])));
    const missing = [...asked].filter((id) => !answered.has(id));
    if (missing.length > 0) {
      throw modelValidation(
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
    }
  });
}
