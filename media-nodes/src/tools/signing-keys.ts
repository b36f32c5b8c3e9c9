// Which secrets sign a tenant's tool webhooks. Each tenant has its own tool-signing secret, kept encrypted at the
// edge; the node asks the edge for it over the signed node channel (`GET /v1/calls/{callId}/tool-signing`), which
// answers only the node running that call. Values are held in memory for a minute per tenant (a rotation reaches
// nodes within that), never written anywhere and never logged.
import { z } from "zod";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";

export interface ToolSigningKeys {
  /** The secrets to sign this call's tool webhooks with, newest first (two during a rotation). */
  secretsFor(call: { callId: string; tenantId: string }): Promise<readonly string[]>;
}

/** Fixed secrets, the same for every tenant: for tests of the runner itself, never for a deployment. */
export function fixedToolSigningKeys(...secrets: string[]): ToolSigningKeys {
  return { secretsFor: async () => secrets };
}

/** No secrets: a stand-alone node (no edge) sends tool webhooks unsigned, and says so at startup. */
export const UNSIGNED: ToolSigningKeys = { secretsFor: async () => [] };

export class ToolSigningUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolSigningUnavailableError";
  }
}

const AnswerSchema = z.object({ tenantId: z.string(), secrets: z.array(z.string().min(16)).min(1).max(5) });

export interface EdgeToolSigningKeysOptions {
  /** The edge's `/v1` base (the session sink's URL). */
  baseUrl: string;
  nodeId: string;
  secret: string;
  fetch?: typeof fetch;
  /** Default 60 s. */
  ttlMs?: number;
  /** Default 3 s: the tool call (and the caller) waits on a miss. */
  timeoutMs?: number;
  now?: () => number;
}

export class EdgeToolSigningKeys implements ToolSigningKeys {
  readonly #opts: EdgeToolSigningKeysOptions;
  readonly #cache = new Map<string, { at: number; secrets: Promise<readonly string[]> }>();

  constructor(opts: EdgeToolSigningKeysOptions) {
    this.#opts = opts;
  }

  secretsFor(call: { callId: string; tenantId: string }): Promise<readonly string[]> {
    const now = (this.#opts.now ?? Date.now)();
    const hit = this.#cache.get(call.tenantId);
    if (hit && now - hit.at < (this.#opts.ttlMs ?? 60_000)) return hit.secrets;
    const secrets = this.#fetch(call);
    this.#cache.set(call.tenantId, { at: now, secrets });
    // Only answers are kept: the next tool call asks again after a failure.
    secrets.catch(() => {
      if (this.#cache.get(call.tenantId)?.secrets === secrets) this.#cache.delete(call.tenantId);
    });
    return secrets;
  }

  async #fetch(call: { callId: string; tenantId: string }): Promise<readonly string[]> {
    const url = `${this.#opts.baseUrl.replace(/\/+$/, "")}/calls/${encodeURIComponent(call.callId)}/tool-signing`;
    const headers = await signNodeRequest({ nodeId: this.#opts.nodeId, secret: this.#opts.secret, method: "GET", url });
    let res: Response;
    try {
      res = await (this.#opts.fetch ?? fetch)(url, {
        headers: { accept: "application/json", ...headers },
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 3_000),
      });
    } catch (error) {
      throw new ToolSigningUnavailableError(`cannot reach the edge for the tool-signing secret: ${String(error)}`);
    }
    if (!res.ok)
      throw new ToolSigningUnavailableError(`the edge answered HTTP ${res.status} for the tool-signing secret`);
    const parsed = AnswerSchema.safeParse(await res.json().catch(() => undefined));
    // Never echo the body: it holds secrets.
    if (!parsed.success) throw new ToolSigningUnavailableError("the edge answered an invalid tool-signing body");
    if (parsed.data.tenantId !== call.tenantId) {
      throw new ToolSigningUnavailableError("the edge answered another tenant's tool-signing secret");
    }
    return parsed.data.secrets;
  }
}
