// Entry module of the edge Worker (wrangler.toml `main`). Durable Object classes must be exported from here;
// they live in ./do/.
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";
import { consumeWebhookBatch } from "./events/consumer.ts";
import { runKeyMaintenance } from "./secrets/maintenance.ts";

export { CallLedger } from "./do/call-ledger/call-ledger.ts";
export { MediaRegion } from "./do/media-region/media-region.ts";
export { TenantLimiter } from "./do/tenant-limiter/tenant-limiter.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Event webhooks: the webhook queue and its dead-letter queue (workers/src/events/consumer.ts).
  queue: (batch, env) => consumeWebhookBatch(batch, env),
  // Key maintenance: finishes KEK re-wraps and data-key rotations (workers/src/secrets/rotation.ts).
  scheduled: (_controller, env, ctx) => ctx.waitUntil(runKeyMaintenance(env)),
} satisfies ExportedHandler<Env>;
