// Runs the tool calls of one model turn. All calls of a turn run at once (the model asked for them
// together because they don't depend on each other), and every call ends in an outcome, never a throw:
// a slow, failing or invalid tool becomes an honest result the model can speak from, plus a short
// `spokenError` the session can say itself if it has to.
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { ToolDefinition } from "../../../shared/agent-config.ts";
import { canonicalJson } from "../../../shared/prompt-prefix.ts";
import type { ChatMessage } from "../providers/types.ts";
import { type CallAction, runBuiltin } from "./builtins.ts";
import type { EdgeActions } from "./edge-actions.ts";
import { signatureHeaders } from "./signing.ts";
import type { ToolSigningKeys } from "./signing-keys.ts";

export type { CallAction } from "./builtins.ts";

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface ToolOutcome {
  id: string;
  name: string;
  ok: boolean;
  /** JSON for the model (the tool-result content). */
  result: unknown;
  /** A short sentence the session can say when the tool failed. */
  spokenError?: string;
  ms: number;
}

export interface ToolRunContext {
  callId: string;
  tenantId: string;
  history: ChatMessage[];
  /** Aborts in-flight webhooks (barge-in, hang-up). */
  signal?: AbortSignal;
}

export interface ToolRunnerOptions {
  tools: ToolDefinition[];
  /** The tenant's tool-signing secrets (signing-keys.ts). */
  signing: ToolSigningKeys;
  /** Where built-ins that touch the outside world are carried out; without it they refuse, honestly. */
  edge?: EdgeActions | undefined;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Bodies larger than this are refused: they would swamp the model's context and the call's latency. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

const SPOKEN = {
  unknown: "Sorry, I can't do that on this call.",
  invalid: "Sorry, I didn't get all the details I need for that.",
  timeout: "Sorry, that's taking longer than it should. I couldn't get an answer just now.",
  failed: "Sorry, I couldn't reach our system just now.",
  misconfigured: "Sorry, I can't do that right now.",
  cancelled: "Okay.",
} as const;

// One validator cache for the process: agents' schemas repeat across calls, and compiling is the
// expensive part of validation.
const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
const compiled = new Map<string, { validate: ValidateFunction } | { error: string }>();
const MAX_CACHED_SCHEMAS = 2_000;

function compileSchema(schema: Record<string, unknown>): { validate: ValidateFunction } | { error: string } {
  const key = canonicalJson(schema);
  const hit = compiled.get(key);
  if (hit) return hit;
  let entry: { validate: ValidateFunction } | { error: string };
  try {
    entry = { validate: ajv.compile(schema) };
  } catch (error) {
    entry = { error: error instanceof Error ? error.message : String(error) };
  }
  if (compiled.size >= MAX_CACHED_SCHEMAS) {
    const oldest = compiled.keys().next().value;
    if (oldest !== undefined) compiled.delete(oldest);
  }
  compiled.set(key, entry);
  return entry;
}

function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).slice(0, 10).map((e) => `${e.instancePath || "(input)"} ${e.message ?? "is invalid"}`.trim());
}

export class ToolRunner {
  private readonly tools = new Map<string, ToolDefinition>();
  private readonly validators = new Map<string, { validate: ValidateFunction } | { error: string }>();
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: ToolRunnerOptions) {
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    for (const tool of opts.tools) {
      this.tools.set(tool.name, tool);
      this.validators.set(tool.name, compileSchema(tool.inputSchema));
    }
  }

  async run(calls: ToolCall[], ctx: ToolRunContext): Promise<{ outcomes: ToolOutcome[]; actions: CallAction[] }> {
    const settled = await Promise.all(calls.map((call) => this.runOne(call, ctx)));
    return {
      outcomes: settled.map((s) => s.outcome),
      actions: settled.flatMap((s) => (s.action ? [s.action] : [])),
    };
  }

  private async runOne(call: ToolCall, ctx: ToolRunContext): Promise<{ outcome: ToolOutcome; action?: CallAction }> {
    const started = this.now();
    const done = (ok: boolean, result: unknown, spokenError?: string) => ({
      id: call.id,
      name: call.name,
      ok,
      result,
      ...(spokenError !== undefined ? { spokenError } : {}),
      ms: Math.max(0, this.now() - started),
    });

    const tool = this.tools.get(call.name);
    if (!tool) {
      return {
        outcome: done(
          false,
          { error: "unknown_tool", message: `There is no tool named "${call.name}" on this call.` },
          SPOKEN.unknown,
        ),
      };
    }
    const validator = this.validators.get(call.name);
    if (!validator || "error" in validator) {
      return {
        outcome: done(
          false,
          {
            error: "tool_misconfigured",
            message: `The tool's input schema is invalid: ${validator?.error ?? "missing"}`,
          },
          SPOKEN.misconfigured,
        ),
      };
    }
    const input = call.input ?? {};
    if (!validator.validate(input)) {
      return {
        outcome: done(
          false,
          {
            error: "invalid_arguments",
            message: "The arguments don't match the tool's schema; ask the caller for what is missing.",
            details: describeErrors(validator.validate.errors),
          },
          SPOKEN.invalid,
        ),
      };
    }

    try {
      if (tool.builtin) {
        const r = await runBuiltin(tool.builtin, input, {
          callId: ctx.callId,
          history: ctx.history,
          tool,
          edge: this.opts.edge,
          signal: ctx.signal,
        });
        if (!r.ok) return { outcome: done(false, r.result, r.spokenError) };
        return r.action ? { outcome: done(true, r.result), action: r.action } : { outcome: done(true, r.result) };
      }
      if (tool.webhook) {
        const r = await this.callWebhook(tool.name, tool.webhook, call, input, ctx);
        return { outcome: done(r.ok, r.result, r.spokenError) };
      }
      return { outcome: done(false, { error: "tool_misconfigured" }, SPOKEN.misconfigured) };
    } catch (error) {
      // Our own bug must not take the call down with it.
      const message = error instanceof Error ? error.message : String(error);
      return { outcome: done(false, { error: "internal_error", message }, SPOKEN.failed) };
    }
  }

  private async callWebhook(
    name: string,
    webhook: NonNullable<ToolDefinition["webhook"]>,
    call: ToolCall,
    input: unknown,
    ctx: ToolRunContext,
  ): Promise<{ ok: boolean; result: unknown; spokenError?: string }> {
    const timeoutMs = webhook.timeoutMs;
    const body = JSON.stringify({
      tool: name,
      toolCallId: call.id,
      arguments: input,
      call: { callId: ctx.callId, tenantId: ctx.tenantId },
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
    let secrets: readonly string[];
    try {
      secrets = await this.opts.signing.secretsFor({ callId: ctx.callId, tenantId: ctx.tenantId });
    } catch {
      // Never an unsigned request to an endpoint that expects a signature: the tool fails honestly instead.
      return {
        ok: false,
        result: { error: "tool_unavailable", message: "The request could not be signed just now." },
        spokenError: SPOKEN.failed,
      };
    }
    try {
      const response = await this.fetchFn(webhook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "user-agent": "aybiza-tools/1",
          ...signatureHeaders(secrets, this.now(), body),
        },
        body,
        signal,
        redirect: "error",
      });
      const text = await readLimited(response, MAX_RESPONSE_BYTES);
      if (text === null) {
        return {
          ok: false,
          result: {
            error: "response_too_large",
            message: `The tool answered with more than ${MAX_RESPONSE_BYTES} bytes.`,
          },
          spokenError: SPOKEN.failed,
        };
      }
      const parsed = parseBody(text);
      if (!response.ok) {
        return {
          ok: false,
          result: {
            error: response.status >= 500 ? "tool_unavailable" : "tool_rejected",
            status: response.status,
            message:
              response.status >= 500
                ? "The system behind this tool failed. Tell the caller you couldn't complete it right now."
                : "The tool refused the request.",
            ...(parsed !== undefined ? { body: parsed } : {}),
          },
          spokenError: SPOKEN.failed,
        };
      }
      return { ok: true, result: parsed ?? { status: "ok" } };
    } catch (error) {
      if (ctx.signal?.aborted) {
        return {
          ok: false,
          result: { error: "cancelled", message: "The call moved on before the tool answered." },
          spokenError: SPOKEN.cancelled,
        };
      }
      if (timeout.aborted) {
        return {
          ok: false,
          result: {
            error: "timeout",
            timeoutMs,
            message: `The tool did not answer within ${timeoutMs} ms. Tell the caller you couldn't check right now.`,
          },
          spokenError: SPOKEN.timeout,
        };
      }
      const message =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      return { ok: false, result: { error: "tool_unreachable", message }, spokenError: SPOKEN.failed };
    }
  }
}

function parseBody(text: string): unknown {
  if (text.trim().length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/** The body as text, or null when it exceeds the limit (the rest is not read). */
async function readLimited(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
