// Tools the platform itself performs. The ones that reach the outside world (transfer, SMS, verification, handoff)
// are carried out by the edge, which has the carrier credentials, the database and the last word on what this
// agent may do (./edge-actions.ts); the tool waits for its answer, so the result the model speaks from is the true
// outcome. end_call and the transfer itself happen later, at the right moment: after the agent's last words are
// heard, through the CallAction the session publishes. The model's input is untrusted like any other input: it is
// checked here against the tool's `allow` list before the edge checks it again.
import { z } from "zod";
import type { BuiltinTool, ToolDefinition } from "../../../shared/agent-config.ts";
import type { CallActionRequest } from "../../../shared/call-actions.ts";
import type { ChatMessage } from "../providers/types.ts";
import type { EdgeActionOutcome, EdgeActions } from "./edge-actions.ts";
import { extractEntities } from "./entities.ts";

export type CallAction =
  | { type: "end_call"; reason?: string }
  | { type: "transfer_call"; to: string; reason?: string }
  | {
      type: "handoff_to_agent";
      agentId: string;
      /** Present once the edge handed the call over: the session continues with this version. */
      agentVersion?: number;
      prefixHash?: string;
      context: { recentHistory: ChatMessage[]; entities: Record<string, string>; intent: string; reason: string };
    }
  | { type: "send_sms"; to: string; body: string };

export const BUILTIN_TOOL_SPECS: Record<BuiltinTool, { description: string; inputSchema: Record<string, unknown> }> = {
  end_call: {
    description: "End the phone call. Say goodbye first; the call ends after your last words are spoken.",
    inputSchema: {
      type: "object",
      properties: { reason: { type: "string", description: "Why the call is ending." } },
      additionalProperties: false,
    },
  },
  transfer_call: {
    description:
      "Transfer the caller to a person. Tell the caller first in one short sentence; the transfer starts after it. " +
      "Leave out `to` for the default line; only the numbers configured for this agent can be dialled.",
    inputSchema: {
      type: "object",
      properties: {
        to: { type: "string", description: "One of the configured numbers, E.164 (e.g. +14155550100)." },
        reason: { type: "string" },
      },
      additionalProperties: false,
    },
  },
  handoff_to_agent: {
    description: "Hand the call to another AI agent that specializes in the caller's need.",
    inputSchema: {
      type: "object",
      properties: {
        agentId: { type: "string", description: "The agent to hand off to." },
        intent: { type: "string", description: "What the caller wants, in a few words." },
        reason: { type: "string", description: "Why this agent can't finish the task." },
      },
      required: ["agentId"],
      additionalProperties: false,
    },
  },
  send_sms: {
    description:
      "Send a text message to the caller's phone (the number they are calling from). The result says whether it was sent.",
    inputSchema: {
      type: "object",
      properties: {
        body: { type: "string", description: "Message text, at most 1600 characters." },
        to: { type: "string", description: "Only if the agent is configured to text another number: E.164." },
      },
      required: ["body"],
      additionalProperties: false,
    },
  },
  start_verification: {
    description:
      "Verify the caller owns an account: texts a 6-digit code to the phone on file for the account ID the caller " +
      "reads out. Then ask the caller to read the code back and use check_verification.",
    inputSchema: {
      type: "object",
      properties: { accountId: { type: "string", description: "The account ID exactly as the caller said it." } },
      required: ["accountId"],
      additionalProperties: false,
    },
  },
  check_verification: {
    description: "Check the 6-digit code the caller read back from the text message sent by start_verification.",
    inputSchema: {
      type: "object",
      properties: { code: { type: "string", description: "The digits as the caller said them." } },
      required: ["code"],
      additionalProperties: false,
    },
  },
};

export const SMS_MAX_CHARS = 1_600;
const E164 = /^\+[1-9]\d{1,14}$/;
/** Messages of recent history handed to the next agent. */
const HANDOFF_HISTORY_MESSAGES = 12;

/** The model often writes "+1 (415) 555-0100"; the separators carry no meaning. */
export function normalizeE164(raw: string): string | null {
  const compact = raw.replace(/[\s().-]/g, "");
  return E164.test(compact) ? compact : null;
}

// Loose: the tenant may extend a built-in's schema with fields of its own; those are ignored here.
const EndCallInput = z.looseObject({ reason: z.string().max(500).optional() });
const TransferInput = z.looseObject({ to: z.string().optional(), reason: z.string().max(500).optional() });
const HandoffInput = z.looseObject({
  agentId: z.string().min(1).max(128),
  intent: z.string().max(500).optional(),
  reason: z.string().max(500).optional(),
});
const SmsInput = z.looseObject({ to: z.string().optional(), body: z.string() });
const StartVerificationInput = z.looseObject({ accountId: z.string().min(1).max(400) });
const CheckVerificationInput = z.looseObject({ code: z.string().min(1).max(200) });

export type BuiltinResult =
  | { ok: true; result: unknown; action?: CallAction }
  | { ok: false; result: unknown; spokenError: string };

export interface BuiltinContext {
  callId: string;
  history: ChatMessage[];
  /** The agent's definition of this tool (its `allow` list). */
  tool: ToolDefinition;
  /** Undefined when the node runs without an edge: then nothing that needs one can be done, and the model is told. */
  edge: EdgeActions | undefined;
  signal?: AbortSignal | undefined;
}

function lastCallerText(history: ChatMessage[]): string {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    if (m.role !== "user") continue;
    const text = m.content
      .filter((c): c is { type: "text"; text: string } => c.type === "text")
      .map((c) => c.text)
      .join(" ")
      .trim();
    if (text.length > 0) return text;
  }
  return "";
}

function invalid(message: string, spokenError: string): BuiltinResult {
  return { ok: false, result: { error: "invalid_arguments", message }, spokenError };
}

function refused(error: string, message: string, spokenError: string): BuiltinResult {
  return { ok: false, result: { error, message }, spokenError };
}

/** The edge's refusal as the model should hear it: what failed and why, never a pretence that it worked. */
function failed(outcome: Extract<EdgeActionOutcome, { ok: false }>, spokenError: string): BuiltinResult {
  return {
    ok: false,
    result: {
      error: outcome.problem.replaceAll("-", "_"),
      message: outcome.detail,
      instruction: "It did not happen. Tell the caller so, briefly, and offer what you can still do.",
    },
    spokenError,
  };
}

async function perform(ctx: BuiltinContext, request: CallActionRequest): Promise<EdgeActionOutcome> {
  if (!ctx.edge) {
    return {
      ok: false,
      problem: "not-supported",
      status: 0,
      detail: "This call is not connected to the platform's edge.",
    };
  }
  return ctx.edge.perform(ctx.callId, request, ctx.signal);
}

export async function runBuiltin(name: BuiltinTool, input: unknown, ctx: BuiltinContext): Promise<BuiltinResult> {
  const { history } = ctx;
  switch (name) {
    case "end_call": {
      const p = EndCallInput.safeParse(input ?? {});
      if (!p.success) return invalid(p.error.message, "Sorry, something went wrong.");
      return {
        ok: true,
        result: { status: "ending", note: "The call ends after your current reply is spoken." },
        action: { type: "end_call", ...(p.data.reason ? { reason: p.data.reason } : {}) },
      };
    }
    case "transfer_call": {
      const spoken = "Sorry, I couldn't transfer you just now.";
      const p = TransferInput.safeParse(input ?? {});
      if (!p.success) return invalid(p.error.message, spoken);
      const allowed = ctx.tool.allow?.numbers ?? [];
      if (allowed.length === 0) {
        return refused(
          "not_allowed",
          "No transfer numbers are configured for this agent, so it cannot transfer.",
          spoken,
        );
      }
      const to = p.data.to === undefined ? allowed[0]! : normalizeE164(p.data.to);
      if (!to) {
        return invalid(
          `"${p.data.to}" is not a phone number in E.164 format (+ country code and number, e.g. +14155550100)`,
          "Sorry, that number doesn't look right, so I can't transfer you to it.",
        );
      }
      if (!allowed.includes(to)) {
        return refused("not_allowed", `${to} is not one of the numbers this agent may transfer to.`, spoken);
      }
      const reason = p.data.reason;
      const outcome = await perform(ctx, { type: "transfer_call", to, ...(reason ? { reason } : {}) });
      if (!outcome.ok) return failed(outcome, spoken);
      return {
        ok: true,
        result: {
          status: "transferring",
          to,
          note: "The transfer starts once your current reply has been heard. Keep it to one short sentence.",
        },
        action: { type: "transfer_call", to, ...(reason ? { reason } : {}) },
      };
    }
    case "handoff_to_agent": {
      const spoken = "Sorry, I couldn't pass your call on just now.";
      const p = HandoffInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, spoken);
      const allowedAgents = ctx.tool.allow?.agents;
      if (allowedAgents && !allowedAgents.includes(p.data.agentId)) {
        return refused("not_allowed", `This agent may hand calls only to: ${allowedAgents.join(", ")}.`, spoken);
      }
      const context = {
        recentHistory: structuredClone(history.slice(-HANDOFF_HISTORY_MESSAGES)),
        entities: extractEntities(history),
        intent: p.data.intent ?? lastCallerText(history),
        reason: p.data.reason ?? "",
      };
      const outcome = await perform(ctx, { type: "handoff_to_agent", agentId: p.data.agentId, context });
      if (!outcome.ok) return failed(outcome, spoken);
      if (outcome.result.type !== "handoff_to_agent") {
        return failed(
          { ok: false, problem: "bad-answer", status: 200, detail: "the edge answered another action" },
          spoken,
        );
      }
      const { agentName, agentVersion, prefixHash } = outcome.result;
      return {
        ok: true,
        result: {
          status: "handed_off",
          agentId: p.data.agentId,
          agentName,
          entities: context.entities,
          note: `${agentName} takes the call from here, with the caller's details and what they need.`,
        },
        action: { type: "handoff_to_agent", agentId: p.data.agentId, agentVersion, prefixHash, context },
      };
    }
    case "send_sms": {
      const spoken = "Sorry, I couldn't send that text message.";
      const p = SmsInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, spoken);
      let to: string | undefined;
      if (p.data.to !== undefined) {
        const normalized = normalizeE164(p.data.to);
        if (!normalized) {
          return invalid(
            `"${p.data.to}" is not a phone number in E.164 format`,
            "Sorry, that number doesn't look right, so I couldn't send the text.",
          );
        }
        to = normalized;
      }
      const body = p.data.body.trim();
      if (body.length === 0 || body.length > SMS_MAX_CHARS) {
        return invalid(`the message must be 1 to ${SMS_MAX_CHARS} characters, got ${body.length}`, spoken);
      }
      const outcome = await perform(ctx, { type: "send_sms", body, ...(to ? { to } : {}) });
      if (!outcome.ok) return failed(outcome, spoken);
      const sentTo = outcome.result.type === "send_sms" ? outcome.result.to : (to ?? "");
      return {
        ok: true,
        result: { status: "sent", to: sentTo },
        action: { type: "send_sms", to: sentTo, body },
      };
    }
    case "start_verification": {
      const p = StartVerificationInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, "Sorry, I didn't catch the account ID.");
      const outcome = await perform(ctx, { type: "start_verification", accountId: p.data.accountId });
      if (!outcome.ok) {
        const spoken =
          outcome.problem === "unprocessable"
            ? "Sorry, I couldn't use that account ID. Could you read it to me again?"
            : outcome.problem === "not-found"
              ? "Sorry, I couldn't find an account with that ID."
              : "Sorry, I couldn't send a verification code just now.";
        return failed(outcome, spoken);
      }
      const r = outcome.result;
      if (r.type !== "start_verification")
        return refused("bad_answer", "Unexpected answer.", "Sorry, something went wrong.");
      return {
        ok: true,
        result: {
          status: "code_sent",
          sentTo: r.sentTo,
          expiresInMinutes: Math.round(r.expiresInMs / 60_000),
          attemptsLeft: r.attemptsLeft,
          note: "Ask the caller to read out the 6-digit code from the text, then call check_verification with it.",
        },
      };
    }
    case "check_verification": {
      const p = CheckVerificationInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, "Sorry, I didn't catch the code.");
      const outcome = await perform(ctx, { type: "check_verification", code: p.data.code });
      if (!outcome.ok) return failed(outcome, "Sorry, I couldn't check that code just now.");
      const r = outcome.result;
      if (r.type !== "check_verification")
        return refused("bad_answer", "Unexpected answer.", "Sorry, something went wrong.");
      const notes: Record<typeof r.status, string> = {
        verified: "The caller is verified as the owner of this account.",
        "already-verified": "This verification already succeeded.",
        incorrect: `The code is wrong. The caller has ${r.attemptsLeft} attempts left.`,
        unreadable: "That was not six digits; ask the caller to read the code again, digit by digit.",
        locked: "Too many wrong codes: this verification is locked. The caller is NOT verified.",
        expired: "The code expired. The caller is NOT verified; start a new verification if they want.",
      };
      return {
        ok: true,
        result: {
          verified: r.status === "verified" || r.status === "already-verified",
          status: r.status,
          accountId: r.accountId,
          attemptsLeft: r.attemptsLeft,
          note: notes[r.status],
        },
      };
    }
  }
}
