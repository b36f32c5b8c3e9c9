import { z } from "@hono/zod-openapi";
import type { webhookAttempts, webhookDeliveries, webhookEndpoints } from "../../db/schema.ts";
import { SUBSCRIBABLE_EVENT_TYPES } from "../../events/schemas.ts";
import { resourceId } from "../../lib/ids.ts";
import { iso, isoOrNull, Timestamp } from "../../lib/schemas.ts";

export const EventTypeSchema = z.enum(SUBSCRIBABLE_EVENT_TYPES).openapi("WebhookEventType", {
  description: "`recording.ready` is reserved: it can be subscribed to, and is sent once recordings exist.",
});

const WebhookUrl = z
  .url({ protocol: /^https?$/ })
  .max(2_000)
  .openapi({ example: "https://crm.example.com/aybiza/events", description: "Where events are POSTed." });

export const EndpointCreateSchema = z
  .strictObject({
    url: WebhookUrl,
    events: z
      .array(EventTypeSchema)
      .max(20)
      .default([])
      .openapi({ description: "Event types to send; empty (the default) means all of them." }),
    description: z.string().trim().max(500).optional(),
  })
  .openapi("WebhookEndpointCreate");

export const EndpointUpdateSchema = z
  .strictObject({
    url: WebhookUrl.optional(),
    events: z.array(EventTypeSchema).max(20).optional(),
    description: z.string().trim().max(500).nullable().optional(),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: "`true` re-enables an endpoint that was disabled for failing; `false` pauses it." }),
  })
  .openapi("WebhookEndpointUpdate");

export const EndpointSchema = z
  .object({
    id: resourceId("we"),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(EventTypeSchema),
    secretPrefix: z.string().openapi({
      description: "The start of the signing secret, to tell secrets apart; the rest is never shown again.",
    }),
    enabled: z.boolean(),
    disabled: z
      .object({ at: Timestamp, reason: z.string() })
      .nullable()
      .openapi({ description: "Set when the platform disabled the endpoint for failing: the notice, in the API." }),
    failingSince: Timestamp.nullable().openapi({ description: "Start of the current run of failed attempts." }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("WebhookEndpoint");
export type EndpointOut = z.infer<typeof EndpointSchema>;

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().nullable().openapi({
    description:
      "The signing secret (`whsec_…`, Standard Webhooks format). Shown once, in this response only; a replayed idempotent request answers null.",
  }),
}).openapi("WebhookEndpointWithSecret");

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    at: Timestamp,
    statusCode: z.number().int().nullable().openapi({ description: "Null when no response came." }),
    latencyMs: z.number().int(),
    error: z.string().nullable(),
  })
  .openapi("WebhookAttempt");

export const DeliverySchema = z
  .object({
    id: resourceId("dlv"),
    eventId: z.string().openapi({ description: "The `webhook-id` header: the same on every attempt." }),
    eventType: z.string(),
    status: z.enum(["pending", "succeeded", "failed"]).openapi({
      description: "`failed`: every attempt of the retry schedule failed (dead-lettered); it can be resent.",
    }),
    attempts: z.array(AttemptSchema),
    nextAttemptAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi("WebhookDelivery");
export type DeliveryOut = z.infer<typeof DeliverySchema>;

export function endpointOut(row: typeof webhookEndpoints.$inferSelect, secretPrefix: string): EndpointOut {
  return {
    id: row.id as EndpointOut["id"],
    url: row.url,
    description: row.description,
    events: row.events as EndpointOut["events"],
    secretPrefix,
    enabled: row.enabled,
    disabled: row.disabledAt ? { at: iso(row.disabledAt), reason: row.disabledReason ?? "" } : null,
    failingSince: isoOrNull(row.failingSince),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function deliveryOut(
  row: typeof webhookDeliveries.$inferSelect,
  attempts: (typeof webhookAttempts.$inferSelect)[],
): DeliveryOut {
  return {
    id: row.id as DeliveryOut["id"],
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at),
      statusCode: a.statusCode,
      latencyMs: a.latencyMs,
      error: a.error,
    })),
    nextAttemptAt: isoOrNull(row.nextAttemptAt),
    createdAt: iso(row.createdAt),
  };
}
