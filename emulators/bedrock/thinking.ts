// Extended thinking in a request: the additionalModelRequestFields.thinking setting as Claude checks it against
// the model and maxTokens, and the rules for thinking sent back (replayed first in a continued turn, unchanged
// under its signature).
import { createHmac } from "node:crypto";
import { modelValidation } from "./errors.ts";
import type { ModelInfo } from "./models.ts";
import type { Message } from "./request-schema.ts";

export type Thinking = { kind: "off" } | { kind: "enabled"; budgetTokens: number } | { kind: "adaptive" };

// Signatures on reasoning blocks let the model check that thinking it is shown again is its own, unchanged.
// The emulator signs with a fixed key so signatures stay valid across restarts.
const SIGNING_KEY = "aybiza-bedrock-emulator-thinking";
export function signThinking(text: string): string {
  const mac = createHmac("sha256", SIGNING_KEY).update(text, "utf8").digest();
  // Real signatures are long opaque base64; doubling the MAC gives a similar look.
  return `Eq${Buffer.concat([mac, mac]).toString("base64")}`;
}

export function parseThinking(
  fields: Record<string, unknown> | undefined,
  model: ModelInfo,
  maxTokens: number,
): Thinking {
  const thinking = fields?.thinking;
  if (thinking === undefined) return { kind: "off" };
  if (thinking === null || typeof thinking !== "object") throw modelValidation("thinking: Input should be an object");
  const { type, budget_tokens: budget } = thinking as { type?: unknown; budget_tokens?: unknown };
  if (type === "disabled") return { kind: "off" };
  if (type === "adaptive") {
    if (!model.adaptiveThinking) {
      throw modelValidation(
        "thinking.type: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
      );
    }
    return { kind: "adaptive" };
  }
  if (type !== "enabled") {
    throw modelValidation(
      `thinking.type: Input tag '${String(type)}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'`,
    );
  }
  if (typeof budget !== "number" || !Number.isInteger(budget)) {
    throw modelValidation("thinking.enabled.budget_tokens: Field required");
  }
  if (budget < 1024)
    throw modelValidation("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
  if (budget >= maxTokens) throw modelValidation("`max_tokens` must be greater than `thinking.budget_tokens`.");
  return { kind: "enabled", budgetTokens: budget };
}

/** With thinking on, the assistant turn being continued after tool results must start with its thinking. */
export function checkThinkingReplayed(messages: Message[]): void {
  const last = messages[messages.length - 1];
  if (last?.role !== "user" || !last.content.some((b) => b.toolResult)) return;
  const i = messages.length - 2;
  const first = messages[i]?.content[0];
  if (first && !first.reasoningContent) {
    const found = first.text !== undefined ? "text" : first.toolUse ? "tool_use" : "other";
    throw modelValidation(
      `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`.`,
    );
  }
}

/** Thinking sent back must be unchanged: the signature covers the text. */
export function checkSignatures(messages: Message[]): void {
  messages.forEach((message, i) => {
    message.content.forEach((block, j) => {
      const reasoning = block.reasoningContent?.reasoningText;
      if (!reasoning) return;
      if (reasoning.signature === undefined) {
        throw modelValidation(`messages.${i}.content.${j}.thinking.signature: Field required`);
      }
      if (reasoning.signature !== signThinking(reasoning.text)) {
        throw modelValidation(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
      }
    });
  });
}
