// Admission: the only way a socket becomes a call. It runs before any provider is contacted, so a bad,
// expired or replayed token costs a signature check and nothing else. Tenant and agent come from the
// signed token only; nothing a telephony message says about them is trusted.
import type { AgentRuntimeConfig } from "../../../shared/agent-config.ts";
import type { CallCheckpoint } from "../../../shared/call-checkpoint.ts";
import type { CallTokenClaims, CallTokenVerifier, NonceLedger } from "../../../shared/call-token.ts";
import { compilePromptPrefix, type PromptPrefix } from "../../../shared/prompt-prefix.ts";
import { CloseCode } from "../server/close-codes.ts";
import { type AgentDirectory, AgentNotFoundError, PrefixMismatchError } from "./agent-directory.ts";
import { CheckpointError, type CheckpointSource } from "./http-checkpoint-source.ts";

export interface AdmittedCall {
  claims: CallTokenClaims;
  agent: AgentRuntimeConfig;
  prefix: PromptPrefix;
  /**
   * Set when the call was moved here from a node that was lost (the token's `resume` claim): the conversation so far
   * as the caller heard it. The session continues it (a short bridge line instead of the greeting, turn indices from
   * `nextTurnIndex`) rather than starting a new one.
   */
  resume?: CallCheckpoint;
}

export type Refusal = {
  ok: false;
  code: number;
  reason: string /** Low-cardinality label for metrics. */;
  kind: string;
};
export type AdmissionResult = { ok: true; call: AdmittedCall } | Refusal;

export interface AdmissionOptions {
  verifier: CallTokenVerifier;
  ledger: NonceLedger;
  agents: AgentDirectory;
  region: string;
  /** Where resume tokens get their checkpoint (the edge). Without it a resume token starts a new conversation. */
  checkpoints?: CheckpointSource;
  now?: () => number;
}

const TOKEN_REASONS: Record<string, string> = {
  malformed: "call token malformed",
  "unknown-key": "call token signed by an unknown key",
  "bad-signature": "call token signature invalid",
  expired: "call token expired",
  "not-yet-valid": "call token not yet valid",
  "call-mismatch": "call token issued for another call",
};

export class Admission {
  /** Compiled prefixes by config object: compiling hashes the whole prompt, once per agent version. */
  readonly #prefixes = new WeakMap<AgentRuntimeConfig, Promise<PromptPrefix>>();

  constructor(private readonly opts: AdmissionOptions) {}

  /**
   * `stream.callRef` is the carrier's call ID from the stream's `start` (Twilio callSid, Telnyx call_control_id),
   * absent when the transport has none.
   */
  async admit(token: string | undefined, stream: { callRef?: string | undefined } = {}): Promise<AdmissionResult> {
    if (!token) return refuse(CloseCode.unauthorized, "call token missing", "missing");
    const now = this.opts.now?.() ?? Date.now();
    const verified = await this.opts.verifier.verify(token, { now });
    if (!verified.ok) {
      return refuse(CloseCode.unauthorized, TOKEN_REASONS[verified.reason] ?? "call token invalid", verified.reason);
    }
    const claims = verified.claims;
    if (claims.region !== this.opts.region) {
      return refuse(
        CloseCode.forbidden,
        `call token is for region ${claims.region}, this node serves ${this.opts.region}`,
        "wrong-region",
      );
    }
    // Before the nonce is spent: a lifted token shown on another call must not use up the real call's token.
    if (claims.carrierCallId !== undefined && claims.carrierCallId !== stream.callRef) {
      return refuse(CloseCode.unauthorized, TOKEN_REASONS["call-mismatch"] ?? "call token invalid", "call-mismatch");
    }
    if (!this.opts.ledger.consume(claims.nonce, claims.exp, now)) {
      return refuse(CloseCode.unauthorized, "call token already used", "replayed");
    }
    const resolved = await this.resolve(claims);
    if (!resolved.ok) return resolved;
    const call: AdmittedCall = { claims, agent: resolved.agent, prefix: resolved.prefix };
    // A node with no edge to ask (local runs with an agents file) takes a moved call as a new conversation: the
    // caller hears a greeting again rather than being bounced from node to node.
    if (claims.resume === undefined || !this.opts.checkpoints) return { ok: true, call };
    const resumed = await this.#checkpoint(claims, this.opts.checkpoints);
    return resumed.ok ? { ok: true, call: { ...call, resume: resumed.checkpoint } } : resumed;
  }

  /** The checkpoint of a resumed call, checked against the token it was claimed with. */
  async #checkpoint(
    claims: CallTokenClaims,
    source: CheckpointSource,
  ): Promise<{ ok: true; checkpoint: CallCheckpoint } | Refusal> {
    let checkpoint: CallCheckpoint;
    try {
      checkpoint = await source.claim(claims);
    } catch (err) {
      if (err instanceof CheckpointError && err.kind === "refused") {
        return refuse(
          CloseCode.conflict,
          "call checkpoint refused (already claimed, or not this node's)",
          "resume-refused",
        );
      }
      return refuse(CloseCode.unavailable, "call checkpoint unavailable", "resume-unavailable");
    }
    if (
      checkpoint.callId !== claims.callId ||
      checkpoint.resume !== claims.resume ||
      checkpoint.tenantId !== claims.tenantId ||
      checkpoint.agentId !== claims.agentId ||
      checkpoint.agentVersion !== claims.agentVersion ||
      checkpoint.prefixHash !== claims.prefixHash
    ) {
      return refuse(CloseCode.conflict, "call checkpoint is for another call or agent version", "resume-mismatch");
    }
    return { ok: true, checkpoint };
  }

  /**
   * The runtime config and compiled prefix of the agent version `claims` name, checked against them: at admission,
   * and when a live call is handed to another agent (the edge names its version and prefix hash, the directory
   * serves it, the hash must match). A refusal says why, in the same terms as a refused call.
   */
  async resolve(
    claims: CallTokenClaims,
  ): Promise<{ ok: true; agent: AgentRuntimeConfig; prefix: PromptPrefix } | Refusal> {
    let agent: AgentRuntimeConfig;
    try {
      agent = await this.opts.agents.get(claims);
    } catch (err) {
      if (err instanceof AgentNotFoundError) return refuse(CloseCode.notFound, "agent version not found", "no-agent");
      if (err instanceof PrefixMismatchError) return prefixMismatch();
      return refuse(CloseCode.unavailable, "agent directory unavailable", "directory-error");
    }
    if (
      agent.tenantId !== claims.tenantId ||
      agent.agentId !== claims.agentId ||
      agent.version !== claims.agentVersion
    ) {
      return refuse(CloseCode.conflict, "agent directory returned another agent version", "agent-mismatch");
    }
    let prefix = this.#prefixes.get(agent);
    if (!prefix) {
      prefix = compilePromptPrefix(agent);
      this.#prefixes.set(agent, prefix);
    }
    const compiled = await prefix;
    if (compiled.hash !== claims.prefixHash) return prefixMismatch();
    return { ok: true, agent, prefix: compiled };
  }
}

function prefixMismatch(): Refusal {
  return refuse(CloseCode.conflict, "agent prompt does not match the call token (prefix hash)", "prefix-mismatch");
}

function refuse(code: number, reason: string, kind: string): Refusal {
  return { ok: false, code, reason, kind };
}
