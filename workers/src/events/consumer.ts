// The webhook queue's consumer (the edge Worker's `queue()` handler). Two kinds of message (messages.ts):
// - `event`: stored once, then one delivery per subscribed, enabled endpoint of that tenant, each queued as `deliver`;
// - `deliver`: one signed attempt; a failure is retried by the queue after the schedule's delay (retry.ts), the last
//   failure dead-letters the delivery (shown as failed) and may disable an endpoint that has failed for days.
//
// Isolation: every message of a batch runs concurrently and is acked or retried on its own, and every attempt has a
// hard timeout, so a tenant's slow endpoint holds only its own message, for at most one timeout; Cloudflare runs
// further batches in parallel consumer invocations meanwhile. A failure is a delayed retry of that one message,
// never a blocked queue. Nothing here throws past a message: an exception would make the queue retry the whole batch.
import { and, eq, sql } from "drizzle-orm";
import { openDb } from "../db/client.ts";
import {
  type Jurisdiction,
  tenantSecrets,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
} from "../db/schema.ts";
import type { Db } from "../db/types.ts";
import { writeAudit } from "../lib/audit.ts";
import { newResourceId } from "../lib/ids.ts";
import { databaseUrlFor, type ResidencyBindings } from "../residency/residency.ts";
import { keyringFrom, type SecretsBindings } from "../secrets/config.ts";
import { revealSecret } from "../secrets/vault.ts";
import { attemptDelivery, DEFAULT_ATTEMPT_TIMEOUT_MS } from "./attempt.ts";
import {
  type DeliverMessage,
  type EventMessage,
  type EventsBindings,
  WEBHOOK_DLQ_NAME,
  type WebhookMessage,
  WebhookMessageSchema,
} from "./messages.ts";
import { delayAfter, retrySchedule } from "./retry.ts";

export type ConsumerEnv = EventsBindings & SecretsBindings & ResidencyBindings & { DB_WS_PROXY?: string | undefined };

/** Test seam: the fetch used for attempts. */
export interface ConsumerOptions {
  fetch?: typeof fetch;
}

export async function consumeWebhookBatch(
  batch: MessageBatch<unknown>,
  env: ConsumerEnv,
  options: ConsumerOptions = {},
): Promise<void> {
  const databases = new Map<string, ReturnType<typeof openDb>>();
  const dbFor = (jurisdiction: Jurisdiction): Db => {
    const url = databaseUrlFor(env, jurisdiction);
    let handle = databases.get(url);
    if (!handle) {
      handle = openDb({ DATABASE_URL: url, DB_WS_PROXY: env.DB_WS_PROXY }, { max: 4 });
      databases.set(url, handle);
    }
    return handle.db;
  };
  const deadLettered = batch.queue === WEBHOOK_DLQ_NAME;
  try {
    await Promise.all(
      batch.messages.map(async (message) => {
        const parsed = WebhookMessageSchema.safeParse(message.body);
        if (!parsed.success) {
          // Nothing we sent: retrying cannot fix it.
          console.warn("webhooks: dropping a malformed queue message", { id: message.id });
          message.ack();
          return;
        }
        try {
          const db = dbFor(parsed.data.jurisdiction);
          if (deadLettered) await markDeadLettered(db, parsed.data);
          else if (parsed.data.kind === "event") await fanOut(db, env, parsed.data);
          else {
            const delay = await deliver(db, env, parsed.data, message.attempts, options);
            if (delay !== undefined) {
              message.retry({ delaySeconds: delay });
              return;
            }
          }
          message.ack();
        } catch (error) {
          // Our side failed (database, keyring): try this message again soon; the others are unaffected.
          console.warn("webhooks: message failed, will retry", { id: message.id, error: String(error) });
          message.retry({ delaySeconds: Math.min(300, 5 * message.attempts) });
        }
      }),
    );
  } finally {
    await Promise.all([...databases.values()].map((h) => h.close().catch(() => undefined)));
  }
}

/** Stores the event once and queues one delivery per endpoint that wants it. Safe to run again. */
async function fanOut(db: Db, env: ConsumerEnv, event: EventMessage): Promise<void> {
  await db
    .insert(webhookEvents)
    .values({ tenantId: event.tenantId, id: event.eventId, type: event.type, body: event.body })
    .onConflictDoNothing();
  const endpoints = await db
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.tenantId, event.tenantId),
        eq(webhookEndpoints.enabled, true),
        sql`(cardinality(${webhookEndpoints.events}) = 0 or ${event.type} = any(${webhookEndpoints.events}))`,
      ),
    );
  if (endpoints.length > 0) {
    await db
      .insert(webhookDeliveries)
      .values(
        endpoints.map((e) => ({
          tenantId: event.tenantId,
          id: newResourceId("dlv"),
          endpointId: e.id,
          eventId: event.eventId,
          eventType: event.type,
          status: "pending" as const,
        })),
      )
      .onConflictDoNothing();
  }
  // Every delivery of this event not yet attempted, including ones a previous run created but could not queue.
  const pending = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.tenantId, event.tenantId),
        eq(webhookDeliveries.eventId, event.eventId),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    );
  await queueDeliveries(
    env,
    event.tenantId,
    event.jurisdiction,
    pending.map((p) => p.id),
  );
}

export async function queueDeliveries(
  env: EventsBindings,
  tenantId: string,
  jurisdiction: Jurisdiction,
  deliveryIds: readonly string[],
): Promise<void> {
  if (deliveryIds.length === 0) return;
  if (!env.WEBHOOK_QUEUE) throw new Error("no WEBHOOK_QUEUE binding");
  const messages = deliveryIds.map((deliveryId) => ({
    body: { kind: "deliver" as const, tenantId, jurisdiction, deliveryId },
    contentType: "json" as const,
  }));
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < messages.length; i += 100) await env.WEBHOOK_QUEUE.sendBatch(messages.slice(i, i + 100));
}

/** One attempt. Returns the delay before the next one, or undefined when the delivery is finished either way. */
async function deliver(
  db: Db,
  env: ConsumerEnv,
  message: DeliverMessage,
  attempt: number,
  options: ConsumerOptions,
): Promise<number | undefined> {
  const [row] = await db
    .select({
      status: webhookDeliveries.status,
      endpointId: webhookDeliveries.endpointId,
      eventId: webhookDeliveries.eventId,
      body: webhookEvents.body,
      url: webhookEndpoints.url,
      enabled: webhookEndpoints.enabled,
      secretId: webhookEndpoints.secretId,
      previousSecretId: webhookEndpoints.previousSecretId,
    })
    .from(webhookDeliveries)
    .innerJoin(
      webhookEvents,
      and(eq(webhookEvents.tenantId, webhookDeliveries.tenantId), eq(webhookEvents.id, webhookDeliveries.eventId)),
    )
    .innerJoin(
      webhookEndpoints,
      and(
        eq(webhookEndpoints.tenantId, webhookDeliveries.tenantId),
        eq(webhookEndpoints.id, webhookDeliveries.endpointId),
      ),
    )
    .where(and(eq(webhookDeliveries.tenantId, message.tenantId), eq(webhookDeliveries.id, message.deliveryId)));
  // Gone (endpoint deleted) or finished (a duplicate message): nothing to do.
  if (row?.status !== "pending") return undefined;
  if (!row.enabled) {
    await finish(db, message, { status: "failed" });
    return undefined;
  }
  const secrets = await signingSecrets(db, env, message.tenantId, row.secretId, row.previousSecretId);
  const timeoutMs = Number(env.WEBHOOK_TIMEOUT_MS) || DEFAULT_ATTEMPT_TIMEOUT_MS;
  const result = await attemptDelivery({
    url: row.url,
    eventId: row.eventId,
    body: row.body,
    secrets,
    timeoutMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  await db.insert(webhookAttempts).values({
    tenantId: message.tenantId,
    id: newResourceId("att"),
    deliveryId: message.deliveryId,
    attempt,
    statusCode: result.statusCode,
    latencyMs: result.latencyMs,
    error: result.error,
  });
  const endpointWhere = and(eq(webhookEndpoints.tenantId, message.tenantId), eq(webhookEndpoints.id, row.endpointId));
  if (result.ok) {
    await finish(db, message, { status: "succeeded" });
    await db.update(webhookEndpoints).set({ failingSince: null }).where(endpointWhere);
    return undefined;
  }
  await db
    .update(webhookEndpoints)
    .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, now())` })
    .where(endpointWhere);
  const delay = delayAfter(retrySchedule(env.WEBHOOK_RETRY_DELAYS_SECONDS), attempt);
  if (delay === undefined) {
    await deadLetter(db, env, message, row.endpointId);
    return undefined;
  }
  await db
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastAttemptAt: sql`now()`,
      nextAttemptAt: sql`now() + make_interval(secs => ${delay})`,
    })
    .where(and(eq(webhookDeliveries.tenantId, message.tenantId), eq(webhookDeliveries.id, message.deliveryId)));
  return delay;
}

/** The endpoint's secret, plus the one it replaced while that is still valid (both sign during a rotation). */
async function signingSecrets(
  db: Db,
  env: ConsumerEnv,
  tenantId: string,
  secretId: string,
  previousSecretId: string | null,
): Promise<string[]> {
  const vault = { db, ring: keyringFrom(env) };
  const current = await revealSecret(vault, tenantId, secretId, "webhook.sign");
  if (!current) throw new Error(`webhook endpoint secret ${secretId} is missing`);
  if (!previousSecretId) return [current];
  const [previous] = await db
    .select({ expiresAt: tenantSecrets.expiresAt })
    .from(tenantSecrets)
    .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.id, previousSecretId)));
  if (!previous?.expiresAt || previous.expiresAt.getTime() <= Date.now()) return [current];
  const old = await revealSecret(vault, tenantId, previousSecretId, "webhook.sign");
  return old ? [current, old] : [current];
}

async function finish(db: Db, message: DeliverMessage, outcome: { status: "succeeded" | "failed" }): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: outcome.status,
      attempts: sql`${webhookDeliveries.attempts} + ${outcome.status === "succeeded" ? 1 : 0}`,
      lastAttemptAt: sql`now()`,
      nextAttemptAt: null,
      ...(outcome.status === "succeeded" ? { succeededAt: sql`now()` } : { failedAt: sql`now()` }),
    })
    .where(
      and(
        eq(webhookDeliveries.tenantId, message.tenantId),
        eq(webhookDeliveries.id, message.deliveryId),
        eq(webhookDeliveries.status, "pending"),
      ),
    );
}

/** Every attempt failed: the delivery is failed (resendable), the message goes to the dead-letter queue. */
async function deadLetter(db: Db, env: ConsumerEnv, message: DeliverMessage, endpointId: string): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: "failed",
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastAttemptAt: sql`now()`,
      nextAttemptAt: null,
      failedAt: sql`now()`,
    })
    .where(and(eq(webhookDeliveries.tenantId, message.tenantId), eq(webhookDeliveries.id, message.deliveryId)));
  await env.WEBHOOK_DLQ?.send(message, { contentType: "json" }).catch((error: unknown) =>
    console.warn("webhooks: could not dead-letter", { id: message.deliveryId, error: String(error) }),
  );
  await disableIfFailingTooLong(db, env, message.tenantId, endpointId);
}

/**
 * An endpoint that has failed every attempt for WEBHOOK_DISABLE_AFTER_HOURS (default 5 days) when a delivery is
 * dead-lettered is disabled: no more deliveries are made to it until the tenant re-enables it. The notice is the
 * endpoint's own `disabled` field in the API (and an audit entry), not an email.
 */
async function disableIfFailingTooLong(db: Db, env: ConsumerEnv, tenantId: string, endpointId: string) {
  const hours = env.WEBHOOK_DISABLE_AFTER_HOURS === undefined ? 120 : Number(env.WEBHOOK_DISABLE_AFTER_HOURS);
  const disabled = await db
    .update(webhookEndpoints)
    .set({
      enabled: false,
      disabledAt: sql`now()`,
      disabledReason: sql`'Every delivery attempt since ' || to_char(${webhookEndpoints.failingSince} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' failed, and a delivery used up its retries. Fix the endpoint, then re-enable it (PATCH {"enabled": true}) and resend the failed deliveries.'`,
    })
    .where(
      and(
        eq(webhookEndpoints.tenantId, tenantId),
        eq(webhookEndpoints.id, endpointId),
        eq(webhookEndpoints.enabled, true),
        sql`${webhookEndpoints.failingSince} <= now() - make_interval(hours => ${hours})`,
      ),
    )
    .returning({ id: webhookEndpoints.id });
  if (disabled.length > 0) {
    await writeAudit(
      db,
      { tenantId, type: "system", id: "webhooks" },
      { action: "webhook_endpoint.disable", targetType: "webhook_endpoint", targetId: endpointId },
    );
  }
}

/** A message the queue itself dead-lettered (our consumer kept failing on it): its delivery is shown as failed. */
async function markDeadLettered(db: Db, message: WebhookMessage): Promise<void> {
  if (message.kind !== "deliver") {
    console.warn("webhooks: an event could not be fanned out", { id: message.eventId, type: message.type });
    return;
  }
  await finish(db, message, { status: "failed" });
}
