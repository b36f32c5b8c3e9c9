// A Worker for bench/edge.ts: runs TenantLimiter decisions inside workerd and times them there, so the figure is
// the limiter's own throughput (RPC to the object, SQLite, alarm bookkeeping), not an HTTP client's.
import { TenantLimiter } from "../src/do/tenant-limiter/tenant-limiter.ts";

export { TenantLimiter };

interface Env {
  TENANT_LIMITER: DurableObjectNamespace<TenantLimiter>;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const decisions = Math.max(1, Number(url.searchParams.get("decisions") ?? 1_000));
    const tenants = Math.max(1, Number(url.searchParams.get("tenants") ?? 1));
    const kind = url.searchParams.get("kind") === "call" ? "call" : "api";
    const run = crypto.randomUUID();
    const perTenant = Math.ceil(decisions / tenants);
    // Date.now() in workerd advances across I/O, and every decision is an RPC, so it times the loop faithfully.
    const started = Date.now();
    let allowed = 0;
    await Promise.all(
      Array.from({ length: tenants }, async (_, t) => {
        const limiter = env.TENANT_LIMITER.getByName(`bench-${run}-${t}`);
        for (let i = 0; i < perTenant; i++) {
          if (kind === "api") {
            if ((await limiter.takeApiToken("business")).ok) allowed++;
          } else {
            const callId = `call_bench_${i}`;
            if ((await limiter.admitCall({ callId, plan: "business" })).ok) allowed++;
            await limiter.releaseLease(callId);
          }
        }
      }),
    );
    return Response.json({ decisions: perTenant * tenants, allowed, ms: Date.now() - started });
  },
};
