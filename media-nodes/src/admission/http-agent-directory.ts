// The agent directory as the edge serves it: `GET {edge}/v1/media/prefixes/{hash}?tenant&agent&version`, signed
// as this node (shared/media-node-auth.ts), answers the agent version's runtime config and its compiled prompt
// prefix. A version is immutable and the URL is content-addressed, so each (tenant, agent, version, hash) is
// fetched once per process and kept; concurrent calls of a new version share the one request.
//
// The edge is trusted to say which config a version has, not to be right about the hash: the node recompiles
// the prefix from the config it received and refuses it unless it hashes to the token's `prefixHash`, so a
// stale cache or a bug on either side shows up as a refused call, never as a call on the wrong prompt.
import { z } from "zod";
import { type AgentRuntimeConfig, AgentRuntimeConfigSchema } from "../../../shared/agent-config.ts";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";
import { compilePromptPrefix } from "../../../shared/prompt-prefix.ts";
import type { Logger } from "../server/logger.ts";
import { type AgentDirectory, AgentNotFoundError, PrefixMismatchError } from "./agent-directory.ts";

export interface HttpAgentDirectoryOptions {
  /** The edge's origin, e.g. `https://edge.example.com` (paths are appended). */
  edgeUrl: string;
  nodeId: string;
  /** This node's HMAC secret (MEDIA_NODE_SECRET), the one the edge holds for `nodeId`. */
  secret: string;
  fetch?: typeof fetch;
  /** Per request; a caller is waiting in silence. Default 5 s. */
  timeoutMs?: number;
  /** Agent versions kept; the oldest fetched is dropped past this. Default 1000. */
  maxEntries?: number;
  logger?: Logger;
}

/** Why the directory could not answer; admission turns it into 4503 "agent directory unavailable". */
export class AgentDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentDirectoryError";
  }
}

const ResponseSchema = z.object({
  prefix: z.looseObject({ hash: z.string().regex(/^[0-9a-f]{64}$/) }),
  agent: AgentRuntimeConfigSchema,
});

const RETRY_DELAY_MS = 200;

export class HttpAgentDirectory implements AgentDirectory {
  readonly #entries = new Map<string, Promise<AgentRuntimeConfig>>();
  readonly #opts: HttpAgentDirectoryOptions;
  /** HTTP requests made to the edge (diagnostics and tests). */
  requests = 0;

  constructor(opts: HttpAgentDirectoryOptions) {
    this.#opts = opts;
  }

  get(claims: CallTokenClaims): Promise<AgentRuntimeConfig> {
    const key = [claims.tenantId, claims.agentId, claims.agentVersion, claims.prefixHash].join("\u0000");
    const cached = this.#entries.get(key);
    if (cached) return cached;
    const pending = this.#fetch(claims);
    this.#entries.set(key, pending);
    // Only answers are kept: a failure (edge down, unknown version, mismatch) is asked again by the next call.
    pending.catch(() => {
      if (this.#entries.get(key) === pending) this.#entries.delete(key);
    });
    const max = this.#opts.maxEntries ?? 1_000;
    while (this.#entries.size > max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return pending;
  }

  async #fetch(claims: CallTokenClaims): Promise<AgentRuntimeConfig> {
    const query = new URLSearchParams({
      tenant: claims.tenantId,
      agent: claims.agentId,
      version: String(claims.agentVersion),
    });
    const url = `${this.#opts.edgeUrl.replace(/\/+$/, "")}/v1/media/prefixes/${claims.prefixHash}?${query}`;
    let res = await this.#request(url).catch((err: unknown) => err as Error);
    if (res instanceof Error || res.status >= 500) {
      // One quick retry: a dropped connection or a restarting edge should not cost the call.
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      res = await this.#request(url).catch((err: unknown) => err as Error);
    }
    if (res instanceof Error) {
      throw new AgentDirectoryError(`cannot reach the edge's agent directory at ${url}: ${res.message}`);
    }
    if (res.status === 404) throw new AgentNotFoundError(claims);
    if (res.status === 409) throw new PrefixMismatchError(claims, "does not belong to this version (the edge says)");
    if (res.status === 401) {
      throw new AgentDirectoryError(
        "the edge refused this node's signature: MEDIA_NODE_ID / MEDIA_NODE_SECRET must match an entry of the edge's MEDIA_NODE_SECRETS",
      );
    }
    if (!res.ok) throw new AgentDirectoryError(`the edge's agent directory answered HTTP ${res.status}`);

    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new AgentDirectoryError("the edge's agent directory answered a body that is not JSON");
    }
    const parsed = ResponseSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AgentDirectoryError(
        `the edge's agent directory answered an invalid config (${issue?.path.join(".")}: ${issue?.message})`,
      );
    }
    const { agent, prefix } = parsed.data;
    if (
      agent.tenantId !== claims.tenantId ||
      agent.agentId !== claims.agentId ||
      agent.version !== claims.agentVersion
    ) {
      throw new AgentDirectoryError("the edge's agent directory answered another agent version");
    }
    const compiled = await compilePromptPrefix(agent);
    if (compiled.hash !== claims.prefixHash || prefix.hash !== claims.prefixHash) {
      this.#opts.logger?.error("agent config does not hash to the call token's prefix hash", {
        agentId: claims.agentId,
        version: claims.agentVersion,
        expected: claims.prefixHash,
        compiled: compiled.hash,
        served: prefix.hash,
      });
      throw new PrefixMismatchError(claims, "does not match the config the edge served");
    }
    return agent;
  }

  async #request(url: string): Promise<Response> {
    this.requests += 1;
    const doFetch = this.#opts.fetch ?? fetch;
    const headers = await signNodeRequest({
      nodeId: this.#opts.nodeId,
      secret: this.#opts.secret,
      method: "GET",
      url,
    });
    return doFetch(url, {
      method: "GET",
      headers: { accept: "application/json", ...headers },
      signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 5_000),
    });
  }
}
