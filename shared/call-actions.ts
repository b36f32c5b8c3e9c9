// What a media node asks the edge to do for a live call, synchronously, while a tool call waits for the answer:
// POST /v1/calls/{callId}/actions, node-signed (shared/media-node-auth.ts). The node has no carrier credentials and
// no database, so every built-in that touches the outside world goes through here, and the model hears the true
// outcome. The edge trusts none of it: it acts only for the node the call was routed to, for the tenant and agent
// version it has on record, within what that version allows.
import { z } from "zod";

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "an E.164 phone number");

export const CallActionRequestSchema = z.discriminatedUnion("type", [
  /** Prepares a transfer; the edge redirects the call once the turn that asked for it has played out. */
  z.object({ type: z.literal("transfer_call"), to: e164.optional(), reason: z.string().max(500).optional() }).strict(),
  /** To the caller unless `to` names a number the tool allows. */
  z.object({ type: z.literal("send_sms"), to: e164.optional(), body: z.string().min(1).max(1_600) }).strict(),
  z.object({ type: z.literal("start_verification"), accountId: z.string().min(1).max(400) }).strict(),
  /** Checks the code against the verification this call started last (the edge remembers which). */
  z.object({ type: z.literal("check_verification"), code: z.string().min(1).max(200) }).strict(),
  z
    .object({
      type: z.literal("handoff_to_agent"),
      agentId: z.string().min(1).max(128),
      context: z
        .object({
          recentHistory: z
            .array(z.object({ role: z.enum(["user", "assistant"]), content: z.array(z.unknown()).max(200) }).strict())
            .max(100),
          entities: z.record(z.string(), z.string().max(500)),
          intent: z.string().max(1000),
          reason: z.string().max(1000),
        })
        .strict(),
    })
    .strict(),
]);
export type CallActionRequest = z.infer<typeof CallActionRequestSchema>;

/** A 200 answer: what happened, in words the model may repeat. Refusals are problem+json with a `detail`. */
export const CallActionResultSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("transfer_call"), status: z.literal("scheduled"), to: e164 }),
  z.object({ type: z.literal("send_sms"), status: z.literal("sent"), to: e164, messageSid: z.string() }),
  z.object({
    type: z.literal("start_verification"),
    status: z.literal("code_sent"),
    /** The masked phone the code went to (+1••••••0123). */
    sentTo: z.string(),
    expiresInMs: z.number().int().nonnegative(),
    attemptsLeft: z.number().int().nonnegative(),
  }),
  z.object({
    type: z.literal("check_verification"),
    status: z.enum(["verified", "incorrect", "unreadable", "locked", "expired", "already-verified"]),
    accountId: z.string(),
    attemptsLeft: z.number().int().nonnegative(),
  }),
  /**
   * The call now belongs to the target agent's published version: the node continues it with that version (fetched
   * by prefix hash like any call's), and the edge acts for that version from here on.
   */
  z.object({
    type: z.literal("handoff_to_agent"),
    status: z.literal("handed-off"),
    agentId: z.string(),
    agentName: z.string(),
    agentVersion: z.number().int().positive(),
    prefixHash: z.string().regex(/^[0-9a-f]{64}$/),
  }),
]);
export type CallActionResult = z.infer<typeof CallActionResultSchema>;

/** The failures the node turns into honest tool results (problem `type` slug suffixes the edge uses). */
export const CALL_ACTION_PROBLEMS = [
  "not-allowed", // the agent version does not allow this (number, agent, tool)
  "not-supported", // this call cannot (a web call has no carrier; Telnyx transfer is not built)
  "not-found", // no such account / verification / call
  "unprocessable", // the account ID as heard does not parse; no phone on file
  "conflict", // the call is not live
  "carrier-error", // Twilio refused or failed
  "too-many", // per-call limit reached
] as const;
