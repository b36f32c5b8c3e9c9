// Asks the edge to carry out a built-in (shared/call-actions.ts): POST {edge}/v1/calls/{callId}/actions, signed as
// this node like its session events. The answer is an outcome, never a throw: the tool result must tell the model
// what really happened, including "the edge could not be reached".
import { type CallActionRequest, type CallActionResult, CallActionResultSchema } from "../../../shared/call-actions.ts";
import { signNodeRequest } from "../../../shared/media-node-auth.ts";

export type EdgeActionOutcome =
  | { ok: true; result: CallActionResult }
  /** `problem` is the edge's problem slug (not-allowed, carrier-error, …) or `unreachable`. */
  | { ok: false; problem: string; status: number; detail: string };

export interface EdgeActions {
  perform(callId: string, request: CallActionRequest, signal?: AbortSignal): Promise<EdgeActionOutcome>;
}

export interface HttpEdgeActionsOptions {
  /** The edge's /v1 base (the session sink's URL). */
  baseUrl: string;
  nodeId: string;
  secret: string;
  fetch?: typeof fetch;
  /** A tool call the caller is waiting on; Twilio answers well inside this. */
  timeoutMs?: number;
}

export class HttpEdgeActions implements EdgeActions {
  constructor(private readonly opts: HttpEdgeActionsOptions) {}

  async perform(callId: string, request: CallActionRequest, signal?: AbortSignal): Promise<EdgeActionOutcome> {
    const url = `${this.opts.baseUrl.replace(/\/+$/, "")}/calls/${encodeURIComponent(callId)}/actions`;
    const body = JSON.stringify(request);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 8_000);
    try {
      const auth = await signNodeRequest({
        nodeId: this.opts.nodeId,
        secret: this.opts.secret,
        method: "POST",
        url,
        body,
      });
      const response = await (this.opts.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...auth },
        body,
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (response.ok) {
        const parsed = CallActionResultSchema.safeParse(json);
        if (parsed.success) return { ok: true, result: parsed.data };
        return {
          ok: false,
          problem: "bad-answer",
          status: response.status,
          detail: "The edge's answer was not understood.",
        };
      }
      const problem = json && typeof json === "object" ? (json as { type?: unknown; detail?: unknown }) : {};
      const slug = typeof problem.type === "string" ? (problem.type.split("/").pop() ?? "error") : "error";
      const detail = typeof problem.detail === "string" ? problem.detail : `The edge answered ${response.status}.`;
      return { ok: false, problem: slug, status: response.status, detail };
    } catch (error) {
      const reason = timeout.aborted
        ? "it did not answer in time"
        : error instanceof Error
          ? error.message
          : String(error);
      return { ok: false, problem: "unreachable", status: 0, detail: `The platform could not be reached: ${reason}.` };
    }
  }
}
