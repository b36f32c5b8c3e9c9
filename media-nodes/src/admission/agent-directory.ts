// Where a media node gets an agent version's runtime config. The edge serves these by (tenant, agent, version)
// and prefix hash (HttpAgentDirectory); local runs and tests may use a file or memory instead. The node only
// needs this one method, so the seam stays small.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { type AgentRuntimeConfig, AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import type { CallTokenClaims } from "../../../shared/call-token.ts";

export interface AgentDirectory {
  /** The config the token's (tenantId, agentId, agentVersion) names; throws AgentNotFoundError if none. */
  get(claims: CallTokenClaims): Promise<AgentRuntimeConfig>;
}

export class AgentNotFoundError extends Error {
  constructor(claims: Pick<CallTokenClaims, "tenantId" | "agentId" | "agentVersion">) {
    super(`agent ${claims.agentId} version ${claims.agentVersion} of tenant ${claims.tenantId} is not known here`);
    this.name = "AgentNotFoundError";
  }
}

/**
 * The directory holds a config for the token's agent version, but its prompt prefix hashes to something other
 * than the token's `prefixHash`: the call is refused (4409) rather than run on a prompt it was not signed for.
 */
export class PrefixMismatchError extends Error {
  constructor(claims: Pick<CallTokenClaims, "agentId" | "agentVersion" | "prefixHash">, detail: string) {
    super(
      `agent ${claims.agentId} version ${claims.agentVersion}: prefix ${claims.prefixHash.slice(0, 12)}… ${detail}`,
    );
    this.name = "PrefixMismatchError";
  }
}

const key = (tenantId: string, agentId: string, version: number) => `${tenantId}\u0000${agentId}\u0000${version}`;

export class InMemoryAgentDirectory implements AgentDirectory {
  readonly #agents = new Map<string, AgentRuntimeConfig>();
  lookups = 0;

  constructor(agents: AgentRuntimeConfig[] = []) {
    for (const agent of agents) this.add(agent);
  }

  add(agent: AgentRuntimeConfig): void {
    this.#agents.set(key(agent.tenantId, agent.agentId, agent.version), AgentRuntimeConfigSchema.parse(agent));
  }

  async get(claims: CallTokenClaims): Promise<AgentRuntimeConfig> {
    this.lookups += 1;
    const agent = this.#agents.get(key(claims.tenantId, claims.agentId, claims.agentVersion));
    if (!agent) throw new AgentNotFoundError(claims);
    return agent;
  }
}

/** Local runs: a JSON file holding an array of agent runtime configs (MEDIA_AGENTS_FILE). */
export async function loadAgentDirectoryFile(path: string): Promise<InMemoryAgentDirectory> {
  const parsed = z.array(AgentRuntimeConfigSchema).safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`MEDIA_AGENTS_FILE ${path}: ${issue?.path.join(".")} ${issue?.message}`);
  }
  return new InMemoryAgentDirectory(parsed.data);
}
