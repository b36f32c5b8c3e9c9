// Where a node admitted with a resume token gets the call's checkpoint: `POST {edge}/v1/calls/{callId}/resume` with
// the token's nonce and resume number, signed as this node (shared/media-node-auth.ts). The edge answers it once, and
// only to the node the call was moved to, so a replayed resume token admits nothing anywhere.
import { type CallCheckpoint, CallCheckpointSchema } from "../../../shared/call-checkpoint.ts";
import type { CallTokenClaims } from "../../../shared/call-token.ts";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";

/** What admission needs: the checkpoint a resume token stands for, or a CheckpointError saying why not. */
export interface CheckpointSource {
  claim(claims: CallTokenClaims): Promise<CallCheckpoint>;
}

export class CheckpointError extends Error {
  constructor(
    message: string,
    /** `refused`: the edge said no (not this node's call, already claimed, call over); `unavailable`: no answer. */
    readonly kind: "refused" | "unavailable",
  ) {
    super(message);
    this.name = "CheckpointError";
  }
}

export interface HttpCheckpointSourceOptions {
  /** The edge's API base the session events go to, e.g. `https://edge.example.com/v1` (SESSION_SINK_URL). */
  baseUrl: string;
  nodeId: string;
  secret: string;
  fetch?: typeof fetch;
  /** The caller hears silence meanwhile. Default 3 s. */
  timeoutMs?: number;
}

export class HttpCheckpointSource implements CheckpointSource {
  constructor(private readonly opts: HttpCheckpointSourceOptions) {}

  async claim(claims: CallTokenClaims): Promise<CallCheckpoint> {
    if (claims.resume === undefined) throw new CheckpointError("the call token is not a resume token", "refused");
    const url = `${this.opts.baseUrl.replace(/\/+$/, "")}/calls/${encodeURIComponent(claims.callId)}/resume`;
    const body = JSON.stringify({ nonce: claims.nonce, resume: claims.resume });
    const headers = await signNodeRequest({
      nodeId: this.opts.nodeId,
      secret: this.opts.secret,
      method: "POST",
      url,
      body,
    });
    // No retry: the claim is single-use, and a claim whose answer was lost cannot be made again. The stream is
    // refused instead, the carrier follows its <Redirect> once more, and the edge moves the call again.
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...headers },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 3_000),
      });
    } catch (err) {
      throw new CheckpointError(`cannot reach the edge for the checkpoint: ${(err as Error).message}`, "unavailable");
    }
    const text = await res.text();
    if (!res.ok) {
      const detail = safeDetail(text);
      const kind = res.status >= 500 ? "unavailable" : "refused";
      throw new CheckpointError(`the edge refused the checkpoint (HTTP ${res.status}${detail})`, kind);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CheckpointError("the edge answered a checkpoint that is not JSON", "unavailable");
    }
    const parsed = CallCheckpointSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CheckpointError(`invalid checkpoint (${issue?.path.join(".")}: ${issue?.message})`, "unavailable");
    }
    return parsed.data;
  }
}

function safeDetail(text: string): string {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    return typeof detail === "string" ? `: ${detail.slice(0, 200)}` : "";
  } catch {
    return "";
  }
}
