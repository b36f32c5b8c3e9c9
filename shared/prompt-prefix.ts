// The agent's static prompt prefix: the exact bytes sent before the cache point on every turn of every
// call of one agent version. Bedrock's prompt cache matches on identical leading bytes, so anything that
// varies per call (caller number, time, call ID) must never be in here; it goes after the cache point.
// The edge compiles this when a version is published and signs its hash into the call token; the media
// node recompiles or fetches it and checks the hash, so both sides agree byte for byte.
import type { AgentRuntimeConfig, ToolDefinition } from "./agent-config.ts";

export interface PromptPrefix {
  system: string;
  /** Tool specs as sent to the model, in a stable order. */
  tools: { name: string; description: string; inputSchema: Record<string, unknown> }[];
  /** Canonical serialization of system and tools: the bytes the hash covers. */
  canonical: string;
  /** Lower-case hex SHA-256 of `canonical`. */
  hash: string;
}

/** JSON with object keys sorted at every depth, so equal values always serialize to equal bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

function toolSpec(tool: ToolDefinition) {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
}

export async function compilePromptPrefix(
  agent: Pick<AgentRuntimeConfig, "systemPrompt" | "tools">,
): Promise<PromptPrefix> {
  // Tools are sorted by name: the order a tenant happened to list them in must not break the cache.
  const tools = [...agent.tools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(toolSpec);
  const system = agent.systemPrompt.replace(/\r\n/g, "\n").trim();
  const canonical = canonicalJson({ system, tools });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  const hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { system, tools: tools.map((t) => JSON.parse(canonicalJson(t))), canonical, hash };
}
