// The events tenants receive, as versioned zod schemas: the publisher validates every payload against them, and the
// OpenAPI document's `webhooks` section is generated from them (scripts/openapi-doc.ts, docs/api-reference.md).
// A change that is not backwards compatible gets a new `version`, never an edit of a published one.
import { z } from "@hono/zod-openapi";

const Iso = z.string().openapi({ format: "date-time", example: "2026-12-06T10:15:30.000Z" });
const CallId = z.string().openapi({ example: "call_k3m29px47tn8q2w5hjzr" });
const E164 = z.string().openapi({ example: "+14155550100" });

export const CallStartedData = z
  .object({
    callId: CallId,
    direction: z.enum(["inbound", "outbound", "web"]),
    from: E164,
    to: E164,
    agentId: z.string().nullable(),
    agentVersion: z.number().int().nullable(),
    region: z.string().nullable(),
    startedAt: Iso.openapi({ description: "When the media node answered (the caller can hear the agent)." }),
  })
  .openapi("CallStartedData");

export const CallEndedData = z
  .object({
    callId: CallId,
    direction: z.enum(["inbound", "outbound", "web"]),
    from: E164,
    to: E164,
    agentId: z.string().nullable(),
    status: z
      .string()
      .openapi({ description: "Final call status, as `GET /v1/calls/{id}` shows it.", example: "completed" }),
    endReason: z.string().nullable().openapi({ example: "caller-hung-up" }),
    startedAt: Iso.nullable().openapi({ description: "Answered; null when the call never connected." }),
    endedAt: Iso,
    durationSeconds: z.number().openapi({ description: "From answer to end; 0 when the call never connected." }),
    transcriptUrl: z.string().openapi({
      description: "The call with every turn (`GET /v1/calls/{id}`, needs `calls:read`).",
      example: "https://api.aybiza.dev/v1/calls/call_k3m29px47tn8q2w5hjzr",
    }),
  })
  .openapi("CallEndedData");

export const TransferStartedData = z
  .object({ callId: CallId, to: E164, reason: z.string().nullable() })
  .openapi("TransferStartedData");

export const TransferEndedData = z
  .object({
    callId: CallId,
    to: E164,
    outcome: z.enum(["redirected", "failed"]).openapi({
      description:
        "`redirected`: the carrier took the call to the number (our part of the call ends); `failed`: the caller stays with the agent.",
    }),
    detail: z.string().nullable(),
  })
  .openapi("TransferEndedData");

export const ConsentRevokedData = z
  .object({
    consentId: z.string().openapi({ example: "cns_k3m29px47tn8q2w5hjzr" }),
    phoneNumber: E164,
    type: z.enum(["marketing", "service", "emergency"]),
    revokedAt: Iso,
    via: z.enum(["api", "sms"]).openapi({ description: "`sms`: the person texted STOP (or another opt-out word)." }),
  })
  .openapi("ConsentRevokedData");

export const CallAnalyzedData = z
  .object({
    callId: CallId,
    summary: z.string().nullable(),
    successEvaluation: z.object({ passed: z.boolean(), reason: z.string() }).nullable(),
    structuredData: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("CallAnalyzedData");

/** Every event type we send, with its payload schema and version. */
export const EVENT_TYPES = {
  "call.started": { version: 1, data: CallStartedData, summary: "A call connected to an agent." },
  "call.ended": {
    version: 1,
    data: CallEndedData,
    summary: "A call ended (with its reason, duration and transcript link).",
  },
  "call.analyzed": { version: 1, data: CallAnalyzedData, summary: "Post-call analysis of a call is ready." },
  "transfer.started": { version: 1, data: TransferStartedData, summary: "The agent is transferring the call." },
  "transfer.ended": { version: 1, data: TransferEndedData, summary: "A transfer was carried out or failed." },
  "consent.revoked": { version: 1, data: ConsentRevokedData, summary: "A consent record was revoked." },
} as const;

export type EventType = keyof typeof EVENT_TYPES;
export type EventData<T extends EventType> = z.infer<(typeof EVENT_TYPES)[T]["data"]>;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as [EventType, ...EventType[]];

/** Named now so endpoints may subscribe to it; nothing sends it until recordings exist. */
export const RESERVED_EVENT_TYPES = ["recording.ready"] as const;
export const SUBSCRIBABLE_EVENT_TYPES = [...EVENT_TYPE_NAMES, ...RESERVED_EVENT_TYPES] as const;

/** The body of every webhook: Standard Webhooks' recommended `{ type, timestamp, data }`, plus our `version`. */
export function envelopeSchema<T extends EventType>(type: T) {
  const spec = EVENT_TYPES[type];
  const name = `${type
    .split(".")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("")}Event`;
  return z
    .object({
      type: z.literal(type),
      version: z.literal(spec.version),
      timestamp: Iso.openapi({ description: "When the event happened." }),
      data: spec.data,
    })
    .openapi(name, { description: spec.summary });
}

export interface EventEnvelope {
  type: EventType;
  version: number;
  timestamp: string;
  data: Record<string, unknown>;
}
