// Entry module of the edge Worker (wrangler.toml `main`). Durable Object classes must be exported from here;
// they live in ./do/.
import { consumeAnalysisBatch } from "./analysis/consumer.ts";
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";

export { AgentVersionCache } from "./do/agent-version-cache/agent-version-cache.ts";
export { CallLedger } from "./do/call-ledger/call-ledger.ts";
export { MediaRegion } from "./do/media-region/media-region.ts";
export { NumberRouteCache } from "./do/number-route-cache/number-route-cache.ts";
export { TenantLimiter } from "./do/tenant-limiter/tenant-limiter.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Post-call analysis (wrangler.toml: the ANALYSIS_QUEUE consumer).
  queue: (batch, env) => consumeAnalysisBatch(batch, env),
} satisfies ExportedHandler<Env>;
