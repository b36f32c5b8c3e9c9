// What travels on the webhook queue. `event`: one event to fan out to the tenant's endpoints; `deliver`: one
// delivery to attempt. Both carry the tenant's jurisdiction, so the consumer opens the tenant's own database.
import { z } from "zod";
import { JURISDICTIONS } from "../db/schema.ts";
import { EVENT_TYPE_NAMES } from "./schemas.ts";

export const EventMessageSchema = z.object({
  kind: z.literal("event"),
  tenantId: z.string().min(1),
  jurisdiction: z.enum(JURISDICTIONS),
  eventId: z.string().min(1),
  type: z.enum(EVENT_TYPE_NAMES),
  /** The exact JSON body every attempt sends. */
  body: z.string().min(2),
});

export const DeliverMessageSchema = z.object({
  kind: z.literal("deliver"),
  tenantId: z.string().min(1),
  jurisdiction: z.enum(JURISDICTIONS),
  deliveryId: z.string().min(1),
});

export const WebhookMessageSchema = z.discriminatedUnion("kind", [EventMessageSchema, DeliverMessageSchema]);
export type EventMessage = z.infer<typeof EventMessageSchema>;
export type DeliverMessage = z.infer<typeof DeliverMessageSchema>;
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;

/** Queue bindings (wrangler.toml): the webhook queue and its dead-letter queue. */
export interface EventsBindings {
  WEBHOOK_QUEUE?: Queue<WebhookMessage> | undefined;
  WEBHOOK_DLQ?: Queue<WebhookMessage> | undefined;
  /** Overrides the retry schedule (retry.ts); tests use seconds. */
  WEBHOOK_RETRY_DELAYS_SECONDS?: string | undefined;
  /** An endpoint failing this long when a delivery is dead-lettered is disabled. Default 120 (5 days). */
  WEBHOOK_DISABLE_AFTER_HOURS?: string | undefined;
  /** Per-attempt timeout. Default 15000. */
  WEBHOOK_TIMEOUT_MS?: string | undefined;
  /** Where transcript links point (PUBLIC_BASE_URL is used when unset). */
  PUBLIC_BASE_URL?: string | undefined;
}

/** Queue names (wrangler.toml), for the consumer to tell its queues apart. */
export const WEBHOOK_QUEUE_NAME = "aybiza-webhooks";
export const WEBHOOK_DLQ_NAME = "aybiza-webhooks-dlq";
