// An agent version row, as the media node needs it: the runtime config (shared/agent-config.ts) and the
// compiled prompt prefix. Both sides compile the prefix from this same config, so their hashes agree.
import { type AgentRuntimeConfig, AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import { compilePromptPrefix, type PromptPrefix } from "../../../shared/prompt-prefix.ts";
import type { agentVersions } from "../db/schema.ts";

export type AgentVersionRow = typeof agentVersions.$inferSelect;

export function runtimeConfigFromVersion(row: AgentVersionRow): AgentRuntimeConfig {
  return AgentRuntimeConfigSchema.parse({
    ...row.settings,
    tenantId: row.tenantId,
    agentId: row.agentId,
    version: row.version,
    systemPrompt: row.systemPrompt,
    firstMessage: row.firstMessage,
    voice: row.voice,
    language: row.language,
    modelPolicy: row.modelPolicy,
    tools: row.tools,
    thinkingBudgetTokens: row.thinkingBudgetTokens,
  });
}

export async function compileVersion(
  row: AgentVersionRow,
): Promise<{ config: AgentRuntimeConfig; prefix: PromptPrefix }> {
  const config = runtimeConfigFromVersion(row);
  return { config, prefix: await compilePromptPrefix(config) };
}
