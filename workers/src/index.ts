// Entry module of the edge Worker (wrangler.toml `main`). Durable Object classes must be exported from here;
// they live in ./do/.
import { ANALYSIS_QUEUE_NAME, consumeAnalysisBatch } from "./analysis/consumer.ts";
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";
import { consumeWebhookBatch } from "./events/consumer.ts";
import { WEBHOOK_DLQ_NAME, WEBHOOK_QUEUE_NAME } from "./events/messages.ts";
import { runKeyMaintenance } from "./secrets/maintenance.ts";

export { AgentVersionCache } from "./do/agent-version-cache/agent-version-cache.ts";
export { CallLedger } from "./do/call-ledger/call-ledger.ts";
export { MediaRegion } from "./do/media-region/media-region.ts";
export { NumberRouteCache } from "./do/number-route-cache/number-route-cache.ts";
export { TenantLimiter } from "./do/tenant-limiter/tenant-limiter.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // One handler for every queue this Worker consumes, dispatched by queue name. A batch of a queue nobody handles is
  // retried, never acked: a missing consumer must not drop messages.
  queue: async (batch, env) => {
    // Event webhooks: the webhook queue and its dead-letter queue (workers/src/events/consumer.ts).
    if (batch.queue === WEBHOOK_QUEUE_NAME || batch.queue === WEBHOOK_DLQ_NAME) return consumeWebhookBatch(batch, env);
    // Post-call analysis (workers/src/analysis/consumer.ts).
    if (batch.queue === ANALYSIS_QUEUE_NAME) return consumeAnalysisBatch(batch, env);
    console.error("no consumer for queue", { queue: batch.queue });
    batch.retryAll({ delaySeconds: 60 });
  },
  // Key maintenance: finishes KEK re-wraps and data-key rotations (workers/src/secrets/rotation.ts).
  scheduled: (_controller, env, ctx) => ctx.waitUntil(runKeyMaintenance(env)),
} satisfies ExportedHandler<Env>;
