// The OpenAPI document's `webhooks` section: one entry per event type, its body the versioned envelope from
// schemas.ts and the Standard Webhooks headers. The API reference (docs/api-reference.md, /v1/docs) renders it.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { EVENT_TYPE_NAMES, EVENT_TYPES, envelopeSchema } from "./schemas.ts";

const Headers = z.object({
  "webhook-id": z.string().openapi({
    description: "The event's ID: the same on every attempt, so you can drop duplicates (delivery is at least once).",
    example: "evt_k3m29px47tn8q2w5hjzr",
  }),
  "webhook-timestamp": z
    .string()
    .openapi({ description: "Unix seconds when this attempt was signed.", example: "1796551200" }),
  "webhook-signature": z.string().openapi({
    description:
      "`v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, keyed with the endpoint's `whsec_` secret; space-separated when two secrets are valid (after a rotation). Verify with any Standard Webhooks library.",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

// biome-ignore lint/suspicious/noExplicitAny: OpenAPIHono's generic parameters do not matter for registering webhooks.
export function registerEventWebhooks(app: OpenAPIHono<any>): void {
  for (const type of EVENT_TYPE_NAMES) {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      tags: ["Events"],
      summary: EVENT_TYPES[type].summary,
      description:
        "POSTed to every enabled webhook endpoint subscribed to this type (docs/webhooks.md). Answer any 2xx within 15 seconds; anything else is retried for 27 hours.",
      request: {
        headers: Headers,
        body: { required: true, content: { "application/json": { schema: envelopeSchema(type) } } },
      },
      responses: { 200: { description: "Any 2xx acknowledges the event." } },
    });
  }
}
