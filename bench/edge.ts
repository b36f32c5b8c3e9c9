// Edge call control under local workerd: how long a signed Twilio voice webhook takes to come back as TwiML (the
// caller hears ringing meanwhile), and how many TenantLimiter decisions one object and many objects make per
// second. Prints figures; asserts nothing.
//
//   npx tsx bench/edge.ts [--calls 200] [--concurrency 8] [--decisions 2000] [--backend pglite|postgres]
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { newCallSid } from "../emulators/twilio-caller/caller.ts";
import { postSignedForm } from "../emulators/twilio-caller/signed-form.ts";
import { type LocalEdge, startLocalEdge, startLocalWorker } from "../scripts/local-edge.ts";
import { agentOnNumber, signUp } from "../scripts/local-platform.ts";
import { signNodeRequest } from "../shared/media-node-auth.ts";
import { accounts } from "../workers/src/db/schema.ts";
import { percentile, round } from "./lib/stats.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface BenchEdgeOptions {
  /** Inbound calls timed, webhook to TwiML. */
  calls?: number;
  /** Webhooks in flight at once in the concurrent run. */
  concurrency?: number;
  /** Limiter decisions per limiter run. */
  decisions?: number;
  backend?: "postgres" | "pglite";
  log?: (line: string) => void;
}

export interface EdgeFigures {
  backend: "postgres" | "pglite";
  webhookToTwiml: {
    sequential: { n: number; p50Ms: number | null; p99Ms: number | null };
    concurrent: { n: number; concurrency: number; p50Ms: number | null; p99Ms: number | null; callsPerSecond: number };
    /** Answers that were not a media stream (should be 0; a refusal means a limit or the node pool interfered). */
    refused: number;
  };
  limiter: {
    /** One tenant: every decision serialized through one object, as in production. */
    oneTenantDecisionsPerSecond: number;
    /** Many tenants at once: one object each, in parallel. */
    manyTenantsDecisionsPerSecond: number;
    tenants: number;
    /** admitCall + releaseLease pairs through one object. */
    callAdmissionsPerSecond: number;
  };
}

interface Tenant {
  accountId: string;
  number: string;
}

/** A business-plan tenant with a published agent and a number (business: 100 concurrent calls, 120 call burst). */
export async function seedTenant(edge: LocalEdge, i: number): Promise<Tenant> {
  const { accountId, key } = await signUp(edge.url, `Bench ${i}`);
  await edge.db.db.update(accounts).set({ plan: "business" }).where(eq(accounts.id, accountId));
  const number = `+1415${String(1_000_000 + i * 7919 + Math.floor(Math.random() * 1000)).slice(-7)}`;
  const config = { systemPrompt: "You are a benchmark receptionist.", firstMessage: "Hello." };
  await agentOnNumber(edge.url, key, config, { name: "Bench", number });
  return { accountId, number };
}

export async function heartbeat(edge: LocalEdge, nodeId: string): Promise<void> {
  const target = `${edge.url}/v1/media-nodes/heartbeat`;
  const body = JSON.stringify({
    nodeId,
    region: "us-east-1",
    streamBaseUrl: "ws://127.0.0.1:9",
    activeCalls: 0,
    capacity: 10_000,
    draining: false,
    sentAt: Date.now(),
  });
  const headers = await signNodeRequest({
    nodeId,
    secret: edge.nodeSecrets[nodeId] ?? "",
    method: "POST",
    url: target,
    body,
  });
  const res = await fetch(target, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  if (!res.ok) throw new Error(`heartbeat: HTTP ${res.status}`);
}

async function signedPost(edge: LocalEdge, route: string, params: Record<string, string>): Promise<string> {
  return (await postSignedForm(`${edge.url}${route}`, edge.twilioAuthToken, params)).body;
}

/** One inbound call: the timed webhook, then the untimed status callback that gives the lease back. */
export async function oneCall(edge: LocalEdge, tenant: Tenant): Promise<{ ms: number; streamed: boolean }> {
  const callSid = newCallSid();
  const params = {
    CallSid: callSid,
    AccountSid: `AC${"0".repeat(32)}`,
    From: "+12125550123",
    To: tenant.number,
    CallStatus: "ringing",
    Direction: "inbound",
  };
  const started = performance.now();
  const twiml = await signedPost(edge, "/v1/telephony/twilio/voice", params);
  const ms = performance.now() - started;
  await signedPost(edge, "/v1/telephony/twilio/status", {
    CallSid: callSid,
    AccountSid: params.AccountSid,
    CallStatus: "completed",
  });
  return { ms, streamed: twiml.includes("<Stream") };
}

async function limiterThroughput(decisions: number, tenants: number): Promise<EdgeFigures["limiter"]> {
  const config = path.join(tmpdir(), `aybiza-limiter-bench-${process.pid}.toml`);
  await writeFile(
    config,
    [
      'name = "limiter-bench"',
      `main = ${JSON.stringify(path.join(REPO_ROOT, "workers/bench/limiter-worker.ts"))}`,
      'compatibility_date = "2026-04-01"',
      'compatibility_flags = ["nodejs_compat"]',
      "[[durable_objects.bindings]]",
      'name = "TENANT_LIMITER"',
      'class_name = "TenantLimiter"',
      "[[migrations]]",
      'tag = "v1"',
      'new_sqlite_classes = ["TenantLimiter"]',
    ].join("\n"),
  );
  const worker = await startLocalWorker({ config, logLevel: "error" });
  try {
    const run = async (query: string) => {
      const res = await worker.fetch(`/?${query}`);
      const body = (await res.json()) as { decisions: number; ms: number };
      return body.decisions / (Math.max(1, body.ms) / 1000);
    };
    await run(`decisions=200&tenants=1`); // warm-up: isolate, bundle, first object
    return {
      oneTenantDecisionsPerSecond: round(await run(`decisions=${decisions}&tenants=1`), 0),
      manyTenantsDecisionsPerSecond: round(await run(`decisions=${decisions}&tenants=${tenants}`), 0),
      tenants,
      callAdmissionsPerSecond: round(await run(`decisions=${Math.ceil(decisions / 2)}&tenants=1&kind=call`), 0),
    };
  } finally {
    await worker.stop();
  }
}

export async function benchEdge(options: BenchEdgeOptions = {}): Promise<EdgeFigures> {
  const log = options.log ?? ((line: string) => console.log(line));
  const calls = options.calls ?? 200;
  const concurrency = options.concurrency ?? 8;
  const nodeId = "node-bench-1";
  log(`edge: starting workerd (Miniflare) and the database`);
  const edge = await startLocalEdge({ nodeIds: [nodeId], ...(options.backend ? { backend: options.backend } : {}) });
  const beats = setInterval(() => void heartbeat(edge, nodeId).catch(() => undefined), 5_000);
  try {
    await heartbeat(edge, nodeId);
    // At most 100 calls per tenant: the business plan's call-start burst is 120.
    const tenants: Tenant[] = [];
    for (let i = 0; i < Math.ceil((calls * 2) / 100) + 1; i++) tenants.push(await seedTenant(edge, i));
    let next = 0;
    const tenantFor = () => tenants[Math.floor(next++ / 100) % tenants.length] as Tenant;

    log(`edge: warm-up`);
    for (let i = 0; i < 10; i++) await oneCall(edge, tenantFor());

    log(`edge: ${calls} sequential webhooks`);
    const sequential: number[] = [];
    let refused = 0;
    for (let i = 0; i < calls; i++) {
      const r = await oneCall(edge, tenantFor());
      sequential.push(r.ms);
      if (!r.streamed) refused++;
    }

    log(`edge: ${calls} webhooks, ${concurrency} at a time`);
    const concurrent: number[] = [];
    const started = performance.now();
    let issued = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < calls) {
          issued++;
          const r = await oneCall(edge, tenantFor());
          concurrent.push(r.ms);
          if (!r.streamed) refused++;
        }
      }),
    );
    const wallSeconds = (performance.now() - started) / 1000;

    log(`limiter: ${options.decisions ?? 2_000} decisions per run`);
    const limiter = await limiterThroughput(options.decisions ?? 2_000, 16);
    const pct = (xs: number[], p: number) => {
      const v = percentile(xs, p);
      return v === null ? null : round(v, 1);
    };
    return {
      backend: edge.backend,
      webhookToTwiml: {
        sequential: { n: sequential.length, p50Ms: pct(sequential, 50), p99Ms: pct(sequential, 99) },
        concurrent: {
          n: concurrent.length,
          concurrency,
          p50Ms: pct(concurrent, 50),
          p99Ms: pct(concurrent, 99),
          callsPerSecond: round(concurrent.length / wallSeconds, 1),
        },
        refused,
      },
      limiter,
    };
  } finally {
    clearInterval(beats);
    await edge.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      calls: { type: "string" },
      concurrency: { type: "string" },
      decisions: { type: "string" },
      backend: { type: "string" },
    },
  });
  const figures = await benchEdge({
    ...(values.calls ? { calls: Number(values.calls) } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.decisions ? { decisions: Number(values.decisions) } : {}),
    ...(values.backend === "pglite" || values.backend === "postgres" ? { backend: values.backend } : {}),
  });
  console.log(JSON.stringify(figures, null, 2));
}
