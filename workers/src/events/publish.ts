// The one way an event leaves the edge: validated against its versioned schema, given its `webhook-id`, and put on
// the webhook queue. Nothing here talks to a tenant's endpoint, so a caller (the call ledger, an API route) waits for
// a queue send at most, never for a tenant. Fan-out to endpoints and delivery happen in the queue consumer.
import type { Jurisdiction } from "../db/schema.ts";
import { newResourceId } from "../lib/ids.ts";
import type { EventMessage, EventsBindings } from "./messages.ts";
import { EVENT_TYPES, type EventData, type EventEnvelope, type EventType } from "./schemas.ts";

export interface EventTenant {
  id: string;
  jurisdiction: Jurisdiction;
}

/**
 * Builds the queue message of an event: validates `data`, fixes its ID and timestamp. Callers that need the event
 * durable before it is sent (the call ledger's outbox) store this message and send it later with `sendEvent`.
 */
export function buildEvent<T extends EventType>(
  tenant: EventTenant,
  type: T,
  data: EventData<T>,
  { id = newResourceId("evt"), at = Date.now() }: { id?: string; at?: number } = {},
): EventMessage {
  const spec = EVENT_TYPES[type];
  const parsed = spec.data.parse(data) as Record<string, unknown>;
  const envelope: EventEnvelope = { type, version: spec.version, timestamp: new Date(at).toISOString(), data: parsed };
  return {
    kind: "event",
    tenantId: tenant.id,
    jurisdiction: tenant.jurisdiction,
    eventId: id,
    type,
    body: JSON.stringify(envelope),
  };
}

/** Puts a built event on the queue. Without a queue binding (a misconfigured deployment) it says so and drops it. */
export async function sendEvent(env: EventsBindings, message: EventMessage): Promise<void> {
  if (!env.WEBHOOK_QUEUE) {
    console.warn("events: no WEBHOOK_QUEUE binding; event not sent", { type: message.type, id: message.eventId });
    return;
  }
  await env.WEBHOOK_QUEUE.send(message, { contentType: "json" });
}

/**
 * Publishes one event to the tenant's webhook endpoints: `publishEvent(env, { id, jurisdiction }, "call.analyzed",
 * { callId, summary, successEvaluation, structuredData })`. Resolves once the event is queued; returns its ID.
 */
export async function publishEvent<T extends EventType>(
  env: EventsBindings,
  tenant: EventTenant,
  type: T,
  data: EventData<T>,
  options: { id?: string; at?: number } = {},
): Promise<string> {
  const message = buildEvent(tenant, type, data, options);
  await sendEvent(env, message);
  return message.eventId;
}
