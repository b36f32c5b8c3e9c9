// The webhook consumer driven directly (createMessageBatch / getQueueResult), against the real database: a delivery
// whose every attempt fails is retried on the schedule, then dead-lettered and shown as failed with every attempt;
// an endpoint failing that long is disabled with a notice in the API; once re-enabled, the delivery can be resent and
// arrives, signed with the endpoint's secret. The queue producer is captured so nothing here reaches the real queue.

import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type ConsumerEnv, consumeWebhookBatch } from "../../workers/src/events/consumer.ts";
import { WEBHOOK_DLQ_NAME, WEBHOOK_QUEUE_NAME, type WebhookMessage } from "../../workers/src/events/messages.ts";
import { buildEvent } from "../../workers/src/events/publish.ts";
import { signatureFor } from "../../workers/src/events/signing.ts";
import { call, signUp, type Tenant } from "./helpers.ts";

type Captured = { queue: WebhookMessage[]; dlq: WebhookMessage[] };

function capturingEnv(captured: Captured): ConsumerEnv {
  const queue = (into: WebhookMessage[]) =>
    ({
      send: async (body: WebhookMessage) => {
        into.push(body);
      },
      sendBatch: async (messages: Iterable<MessageSendRequest<WebhookMessage>>) => {
        for (const m of messages) into.push(m.body);
      },
    }) as unknown as Queue<WebhookMessage>;
  return {
    ...(env as unknown as ConsumerEnv),
    WEBHOOK_QUEUE: queue(captured.queue),
    WEBHOOK_DLQ: queue(captured.dlq),
    WEBHOOK_RETRY_DELAYS_SECONDS: "2,4",
    WEBHOOK_DISABLE_AFTER_HOURS: "0",
  };
}

async function consume(
  queueName: string,
  body: WebhookMessage,
  attempts: number,
  consumerEnv: ConsumerEnv,
  answer: (request: Request) => Response,
) {
  const seen: Request[] = [];
  const batch = createMessageBatch(queueName, [{ id: crypto.randomUUID(), timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await consumeWebhookBatch(batch, consumerEnv, {
    fetch: async (input, init) => {
      const request = new Request(input, init);
      seen.push(request.clone());
      return answer(request);
    },
  });
  return { result: await getQueueResult(batch, ctx), seen };
}

let tenant: Tenant;
let endpoint: { id: string; secret: string };
const captured: Captured = { queue: [], dlq: [] };
let consumerEnv: ConsumerEnv;

beforeAll(async () => {
  tenant = await signUp("Flaky Hooks Inc");
  const created = await call<{ id: string; secret: string }>("POST", "/v1/webhook-endpoints", {
    key: tenant.key,
    body: { url: "https://hooks.flaky.test/events", events: ["consent.revoked"] },
  });
  expect(created.status).toBe(201);
  endpoint = created.body;
  consumerEnv = capturingEnv(captured);
});

describe("a failing webhook endpoint", () => {
  it("is retried on the schedule, then the delivery is dead-lettered, failed, and the endpoint disabled", async () => {
    const event = buildEvent({ id: tenant.accountId, jurisdiction: "us" }, "consent.revoked", {
      consentId: "cns_k3m29px47tn8q2w5hjzr",
      phoneNumber: "+14155550100",
      type: "marketing",
      revokedAt: new Date().toISOString(),
      via: "api",
    });
    await consume(WEBHOOK_QUEUE_NAME, event, 1, consumerEnv, () => new Response("unused"));
    const deliver = captured.queue.find((m) => m.kind === "deliver");
    if (!deliver) throw new Error("the event was not fanned out to a delivery");

    const down = () => new Response("down", { status: 503 });
    // The test harness records that a message was retried, not its delay; the delivery's next attempt shows it.
    const nextAttemptIn = async () => {
      const list = await call<{ data: { nextAttemptAt: string; attempts: { at: string }[] }[] }>(
        "GET",
        `/v1/webhook-endpoints/${endpoint.id}/deliveries`,
        { key: tenant.key },
      );
      const delivery = list.body.data[0];
      return Date.parse(delivery?.nextAttemptAt ?? "") - Date.parse(delivery?.attempts.at(-1)?.at ?? "");
    };
    const first = await consume(WEBHOOK_QUEUE_NAME, deliver, 1, consumerEnv, down);
    expect(first.result.retryMessages).toHaveLength(1);
    expect(await nextAttemptIn()).toBeGreaterThanOrEqual(2_000);
    expect(await nextAttemptIn()).toBeLessThan(3_000);
    const second = await consume(WEBHOOK_QUEUE_NAME, deliver, 2, consumerEnv, down);
    expect(second.result.retryMessages).toHaveLength(1);
    expect(await nextAttemptIn()).toBeGreaterThanOrEqual(4_000);
    expect(await nextAttemptIn()).toBeLessThan(5_000);
    const last = await consume(WEBHOOK_QUEUE_NAME, deliver, 3, consumerEnv, down);
    expect(last.result.retryMessages).toEqual([]);
    expect(last.result.explicitAcks).toHaveLength(1);
    expect(captured.dlq).toEqual([deliver]);
    // Each attempt carried the same webhook-id and a valid signature.
    const sent = [...first.seen, ...second.seen, ...last.seen];
    expect(new Set(sent.map((r) => r.headers.get("webhook-id")))).toEqual(new Set([event.eventId]));

    const deliveries = await call<{ data: { status: string; attempts: { attempt: number; statusCode: number }[] }[] }>(
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`,
      { key: tenant.key },
    );
    expect(deliveries.body.data).toHaveLength(1);
    expect(deliveries.body.data[0]?.attempts.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 503],
      [2, 503],
      [3, 503],
    ]);
    const shown = await call<{ enabled: boolean; disabled: { reason: string } | null }>(
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}`,
      { key: tenant.key },
    );
    expect(shown.body.enabled).toBe(false);
    expect(shown.body.disabled?.reason).toMatch(/failed/);
  });

  it("refuses a resend while disabled, and a resent delivery arrives once it is re-enabled", async () => {
    const failed = await call<{ data: { id: string }[] }>(
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`,
      { key: tenant.key },
    );
    const deliveryId = failed.body.data[0]?.id;
    const resendPath = `/v1/webhook-endpoints/${endpoint.id}/deliveries/${deliveryId}/resend`;
    expect((await call("POST", resendPath, { key: tenant.key })).status).toBe(409);

    const enabled = await call<{ enabled: boolean; disabled: unknown }>(
      "PATCH",
      `/v1/webhook-endpoints/${endpoint.id}`,
      { key: tenant.key, body: { enabled: true } },
    );
    expect(enabled.body).toMatchObject({ enabled: true, disabled: null });
    // The resend goes out on the real queue binding; its consumer waits for its batch window, and this test runs the
    // same message at once (the consumer's own check on the delivery's status makes the later run a no-op).
    const resent = await call<{ status: string }>("POST", resendPath, { key: tenant.key });
    expect(resent.status).toBe(202);
    expect(resent.body.status).toBe("pending");

    const ok = await consume(
      WEBHOOK_QUEUE_NAME,
      { kind: "deliver", tenantId: tenant.accountId, jurisdiction: "us", deliveryId: deliveryId ?? "" },
      1,
      consumerEnv,
      () => new Response(null, { status: 204 }),
    );
    const request = ok.seen[0];
    if (!request) throw new Error("no attempt made");
    const body = await request.text();
    const expected = await signatureFor(
      endpoint.secret,
      request.headers.get("webhook-id") ?? "",
      Number(request.headers.get("webhook-timestamp")),
      body,
    );
    expect(request.headers.get("webhook-signature")).toBe(expected);
    const after = await call<{ data: { status: string; attempts: unknown[] }[] }>(
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}/deliveries`,
      { key: tenant.key },
    );
    expect(after.body.data[0]).toMatchObject({ status: "succeeded" });
    expect(after.body.data[0]?.attempts).toHaveLength(4);
  });

  it("a message the queue itself dead-lettered is shown as failed", async () => {
    const event = buildEvent({ id: tenant.accountId, jurisdiction: "us" }, "consent.revoked", {
      consentId: "cns_k3m29px47tn8q2w5hjzs",
      phoneNumber: "+14155550101",
      type: "service",
      revokedAt: new Date().toISOString(),
      via: "sms",
    });
    captured.queue.length = 0;
    await consume(WEBHOOK_QUEUE_NAME, event, 1, consumerEnv, () => new Response("unused"));
    const deliver = captured.queue.find((m) => m.kind === "deliver");
    if (deliver?.kind !== "deliver") throw new Error("no delivery");
    await consume(WEBHOOK_DLQ_NAME, deliver, 1, consumerEnv, () => new Response("unused"));
    const list = await call<{ data: { id: string; status: string }[] }>(
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}/deliveries`,
      { key: tenant.key },
    );
    expect(list.body.data.find((d) => d.id === deliver.deliveryId)?.status).toBe("failed");
  });
});
