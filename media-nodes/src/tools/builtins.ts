// Tools the platform itself performs. They don't do the thing: they return a CallAction the session
// carries out at the right moment (after the goodbye is spoken, say), and a result the model can
// speak from. Their input comes from the model, so it is checked like any other untrusted input.
import { z } from "zod";
import type { BuiltinTool } from "../../../shared/agent-config.ts";
import type { ChatMessage } from "../providers/types.ts";
import { extractEntities } from "./entities.ts";

export type CallAction =
  | { type: "end_call"; reason?: string }
  | { type: "transfer_call"; to: string; reason?: string }
  | {
      type: "handoff_to_agent";
      agentId: string;
      context: { recentHistory: ChatMessage[]; entities: Record<string, string>; intent: string; reason: string };
    }
  | { type: "send_sms"; to: string; body: string };

/** Descriptions and input schemas to offer the model for each built-in (the console starts from these). */
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
    description: "Transfer the caller to a phone number (E.164, e.g. +14155550100). Tell the caller first.",
    inputSchema: {
      type: "object",
      properties: {
        to: { type: "string", description: "Destination in E.164 format." },
        reason: { type: "string" },
      },
      required: ["to"],
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
    description: "Send a text message to a phone number (E.164). Confirm the number with the caller first.",
    inputSchema: {
      type: "object",
      properties: {
        to: { type: "string", description: "Recipient in E.164 format." },
        body: { type: "string", description: "Message text, at most 1600 characters." },
      },
      required: ["to", "body"],
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
const TransferInput = z.looseObject({ to: z.string(), reason: z.string().max(500).optional() });
const HandoffInput = z.looseObject({
  agentId: z.string().min(1).max(200),
  intent: z.string().max(500).optional(),
  reason: z.string().max(500).optional(),
});
const SmsInput = z.looseObject({ to: z.string(), body: z.string() });

export type BuiltinResult =
  | { ok: true; result: unknown; action: CallAction }
  | { ok: false; result: unknown; spokenError: string };

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

export function runBuiltin(name: BuiltinTool, input: unknown, history: ChatMessage[]): BuiltinResult {
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
      const p = TransferInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, "Sorry, I couldn't transfer you.");
      const to = normalizeE164(p.data.to);
      if (!to) {
        return invalid(
          `"${p.data.to}" is not a phone number in E.164 format (+ country code and number, e.g. +14155550100)`,
          "Sorry, that number doesn't look right, so I can't transfer you to it.",
        );
      }
      return {
        ok: true,
        result: { status: "transferring", to, note: "The transfer starts after your current reply is spoken." },
        action: { type: "transfer_call", to, ...(p.data.reason ? { reason: p.data.reason } : {}) },
      };
    }
    case "handoff_to_agent": {
      const p = HandoffInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, "Sorry, I couldn't connect you to the right person.");
      const context = {
        recentHistory: structuredClone(history.slice(-HANDOFF_HISTORY_MESSAGES)),
        entities: extractEntities(history),
        intent: p.data.intent ?? lastCallerText(history),
        reason: p.data.reason ?? "",
      };
      return {
        ok: true,
        result: { status: "handing_off", agentId: p.data.agentId, entities: context.entities },
        action: { type: "handoff_to_agent", agentId: p.data.agentId, context },
      };
    }
    case "send_sms": {
      const p = SmsInput.safeParse(input);
      if (!p.success) return invalid(p.error.message, "Sorry, I couldn't send that text message.");
      const to = normalizeE164(p.data.to);
      if (!to) {
        return invalid(
          `"${p.data.to}" is not a phone number in E.164 format`,
          "Sorry, that number doesn't look right, so I couldn't send the text.",
        );
      }
      const body = p.data.body.trim();
      if (body.length === 0 || body.length > SMS_MAX_CHARS) {
        return invalid(
          `the message must be 1 to ${SMS_MAX_CHARS} characters, got ${body.length}`,
          "Sorry, I couldn't send that text message.",
        );
      }
      return { ok: true, result: { status: "queued", to }, action: { type: "send_sms", to, body } };
    }
  }
}
