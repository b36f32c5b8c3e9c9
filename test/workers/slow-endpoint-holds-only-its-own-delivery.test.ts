// Isolation between tenants' endpoints inside one consumer batch: tenant A's endpoint hangs, tenant B's answers. B's
// event is delivered and acknowledged while A's request is still hanging, and A's attempt ends at the per-attempt
// timeout as a failure of A's message alone, retried later. The order of events is asserted, not durations.

import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { type ConsumerEnv, consumeWebhookBatch } from "../../workers/src/events/consumer.ts";
import { WEBHOOK_QUEUE_NAME, type WebhookMessage } from "../../workers/src/events/messages.ts";
import { buildEvent } from "../../workers/src/events/publish.ts";
import { call, signUp } from "./helpers.ts";

it("a hanging endpoint of one tenant does not hold another tenant's delivery in the same batch", async () => {
  const captured: WebhookMessage[] = [];
  const queue = {
    send: async (body: WebhookMessage) => {
      captured.push(body);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<WebhookMessage>>) => {
      for (const m of messages) captured.push(m.body);
    },
  } as unknown as Queue<WebhookMessage>;
  const consumerEnv: ConsumerEnv = {
    ...(env as unknown as ConsumerEnv),
    WEBHOOK_QUEUE: queue,
    WEBHOOK_DLQ: queue,
    WEBHOOK_TIMEOUT_MS: "1500",
  };

  const tenants = [await signUp("Slow Endpoint Co"), await signUp("Fast Endpoint Co")];
  const [slow, fast] = tenants;
  if (!slow || !fast) throw new Error("sign-up failed");
  for (const [tenant, host] of [
    [slow, "slow.test"],
    [fast, "fast.test"],
  ] as const) {
    const r = await call("POST", "/v1/webhook-endpoints", { key: tenant.key, body: { url: `https://${host}/hooks` } });
    expect(r.status).toBe(201);
    const event = buildEvent({ id: tenant.accountId, jurisdiction: "us" }, "consent.revoked", {
      consentId: "cns_k3m29px47tn8q2w5hjzr",
      phoneNumber: "+14155550100",
      type: "marketing",
      revokedAt: new Date().toISOString(),
      via: "api",
    });
    const fanOut = createMessageBatch(WEBHOOK_QUEUE_NAME, [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: event },
    ]);
    await consumeWebhookBatch(fanOut, consumerEnv);
  }
  const deliveries = captured.filter((m) => m.kind === "deliver");
  expect(deliveries.map((d) => d.tenantId)).toEqual([slow.accountId, fast.accountId]);

  // B answers only once A's request is hanging: were the batch handled one message at a time, B would wait for A's
  // timeout (A first) or time out itself waiting (B first), and the assertions below would fail either way.
  const order: string[] = [];
  let slowIsHanging: () => void = () => undefined;
  const hanging = new Promise<void>((resolve) => {
    slowIsHanging = resolve;
  });
  const batch = createMessageBatch(
    WEBHOOK_QUEUE_NAME,
    deliveries.map((body) => ({ id: `${body.tenantId}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await consumeWebhookBatch(batch, consumerEnv, {
    fetch: async (input, init) => {
      const host = new URL(new Request(input, init).url).host;
      order.push(`${host} sent`);
      if (host === "fast.test") {
        await hanging;
        order.push("fast.test answered");
        return new Response(null, { status: 200 });
      }
      slowIsHanging();
      // The slow endpoint never answers; only the attempt's timeout ends it.
      return new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener("abort", () => {
          order.push("slow.test timed out");
          reject(init.signal?.reason);
        });
      });
    },
  });
  expect(order.slice(0, 2).sort()).toEqual(["fast.test sent", "slow.test sent"]);
  expect(order.slice(2)).toEqual(["fast.test answered", "slow.test timed out"]);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toEqual([fast.accountId]);
  expect(result.retryMessages.map((r: { msgId: string }) => r.msgId)).toEqual([slow.accountId]);

  const slowDeliveries = await call<{ data: { status: string; attempts: { error: string | null }[] }[] }>(
    "GET",
    `/v1/webhook-endpoints/${(await call<{ data: { id: string }[] }>("GET", "/v1/webhook-endpoints", { key: slow.key })).body.data[0]?.id}/deliveries`,
    { key: slow.key },
  );
  expect(slowDeliveries.body.data[0]).toMatchObject({ status: "pending" });
  expect(slowDeliveries.body.data[0]?.attempts[0]?.error).toMatch(/no answer within 1500 ms/);
});
