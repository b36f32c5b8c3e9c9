// What media nodes call on the edge: heartbeats into their region's directory, session events into the call's
// CallLedger, the built-in tools' actions, and prompt prefixes (with the agent's runtime config) by hash. All
// node-authenticated; whatever concerns one call is accepted only from the node that call was routed to.

import { type Context, Hono } from "hono";
import { z } from "zod";
import { CallActionRequestSchema } from "../../../shared/call-actions.ts";
import { ResumeClaimSchema } from "../../../shared/call-checkpoint.ts";
import { SessionEventSchema } from "../../../shared/session-events.ts";
import type { CallControlEnv } from "../call-control-env.ts";
import { openDb } from "../db/client.ts";
import type { Db } from "../db/types.ts";
import { isDatabaseUnavailable, withDeadline } from "../db/unavailable.ts";
import { locateSession } from "../do/call-ledger/locate.ts";
import { heartbeatSchema } from "../do/media-region/heartbeat.ts";
import { compileVersion } from "../prefix/runtime-config.ts";
import { findAgentVersion, loadStoredPrefix } from "../prefix/store.ts";
import { withEveryDatabase } from "../residency/databases.ts";
import { databaseUrlFor, namespaceFor } from "../residency/residency.ts";
import { regionInfo } from "../routing/regions.ts";
import { keyringFrom } from "../secrets/config.ts";
import { toolSigningSecrets } from "../secrets/tool-signing.ts";
import { ROUTE_LOOKUP_DEADLINE_MS, readCachedVersion } from "../telephony/route-lookup.ts";
import { performCallAction } from "./call-actions.ts";
import { authenticateNode } from "./node-auth.ts";

type MediaEnv = { Bindings: CallControlEnv; Variables: { db: Db } };

const problem = (status: number, slug: string, detail: string) =>
  new Response(JSON.stringify({ type: `https://aybiza.dev/problems/${slug}`, title: slug, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A media node's signed request with a JSON body: the authenticated node and the body as `schema` reads it, or the
 * problem response to return (401 for a bad signature, 400 naming each invalid field).
 */
async function nodeRequest<T extends z.ZodType>(
  c: Context<MediaEnv>,
  schema: T,
): Promise<{ ok: true; nodeId: string; data: z.infer<T> } | { ok: false; response: Response }> {
  const body = await c.req.text();
  const auth = await authenticateNode(c.req.raw, body, c.env.MEDIA_NODE_SECRETS);
  if (!auth.ok) {
    return {
      ok: false,
      response: problem(401, "unauthorized", `Media node authentication failed (${auth.reason}).`),
    };
  }
  const parsed = schema.safeParse(parseJson(body));
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    return { ok: false, response: problem(400, "validation-error", detail) };
  }
  return { ok: true, nodeId: auth.nodeId, data: parsed.data };
}

export const mediaRoutes = new Hono<MediaEnv>();

mediaRoutes.post("/media-nodes/heartbeat", async (c) => {
  const request = await nodeRequest(c, heartbeatSchema);
  if (!request.ok) return request.response;
  const beat = request.data;
  if (beat.nodeId !== request.nodeId) return problem(403, "forbidden", "A node may only report for itself.");
  const region = regionInfo(beat.region);
  if (!region) return problem(400, "validation-error", `Unknown region ${beat.region}.`);
  const result = await namespaceFor(c.env.MEDIA_REGION, c.env, region.jurisdiction)
    .getByName(region.id, { locationHint: region.locationHint })
    .heartbeat(beat);
  return c.json(result, result.accepted ? 200 : 409);
});

mediaRoutes.post("/calls/:callId/events", async (c) => {
  const request = await nodeRequest(c, SessionEventSchema);
  if (!request.ok) return request.response;
  const { nodeId, data: event } = request;
  const callId = c.req.param("callId");
  if (event.callId !== callId) return problem(400, "validation-error", "The event names another call than the URL.");
  const session = await locateSession(c.env, callId);
  if (!session) return problem(404, "not-found", `No call ${callId}.`);
  // Another node, even an authenticated one, must not write turns into, end, or transfer a call it is not running.
  const snapshot = await session.snapshot();
  if (!snapshot || snapshot.record.nodeId !== nodeId) return notYourCall(callId);
  if (event.type === "call.started" && event.nodeId !== nodeId) return notYourCall(callId);
  const result = await session.ingest(event, { nodeId });
  if (result.ok) return c.json({ state: result.snapshot.state }, 202);
  if (result.error === "not-found") return problem(404, "not-found", `No call ${callId}.`);
  if (result.error === "not-your-call") return notYourCall(callId);
  if (result.error === "illegal-transition") {
    return problem(409, "conflict", `The call is ${result.from}; it cannot become ${result.to}.`);
  }
  if (result.error === "not-live") return problem(409, "conflict", `The call is ${result.state}.`);
  return problem(409, "conflict", result.message);
});

const notYourCall = (callId: string) => problem(403, "forbidden", `Call ${callId} was not routed to this media node.`);

mediaRoutes.post("/calls/:callId/actions", async (c) => {
  const request = await nodeRequest(c, CallActionRequestSchema);
  if (!request.ok) return request.response;
  const { nodeId, data: action } = request;
  const callId = c.req.param("callId");
  const session = await locateSession(c.env, callId);
  if (!session) return problem(404, "not-found", `No call ${callId}.`);
  const snapshot = await session.snapshot();
  if (!snapshot || snapshot.record.nodeId !== nodeId) return notYourCall(callId);
  if (snapshot.state === "ended") return problem(409, "conflict", `Call ${callId} has ended.`);
  const outcome = await performCallAction({ env: c.env, requestDb: c.var.db, session, snapshot }, action);
  if (!outcome.ok) return problem(outcome.status, outcome.slug, outcome.detail);
  return c.json(outcome.result, 200);
});

// A node admitted with a resume token takes over a live call: it gets the call's checkpoint (agent version, the
// conversation as heard, entities, the unfinished turn), once, and only if the call was moved to it.
mediaRoutes.post("/calls/:callId/resume", async (c) => {
  const request = await nodeRequest(c, ResumeClaimSchema);
  if (!request.ok) return request.response;
  const callId = c.req.param("callId");
  const session = await locateSession(c.env, callId);
  if (!session) return problem(404, "not-found", `No call ${callId}.`);
  const claimed = await session.claimResume({ nodeId: request.nodeId, ...request.data });
  if (claimed.ok) return c.json(claimed.checkpoint, 200, { "cache-control": "no-store" });
  switch (claimed.error) {
    case "not-found":
      return problem(404, "not-found", `No call ${callId}.`);
    case "not-your-call":
      return notYourCall(callId);
    case "not-live":
      return problem(409, "conflict", `Call ${callId} has ended.`);
    case "no-resume":
      return problem(409, "conflict", "That token is not the call's current resume token.");
    case "already-claimed":
      return problem(409, "conflict", "This resume was already claimed; a resume token is good for one stream.");
  }
});

// The tenant's tool-signing secrets, for the node running one of its calls: only the node the call was routed to may
// ask, and only for that call's tenant, so a node holds a tenant's secret only while it runs that tenant's call. The
// answer is never cached by HTTP caches and the node never logs it.
mediaRoutes.get("/calls/:callId/tool-signing", async (c) => {
  const auth = await authenticateNode(c.req.raw, "", c.env.MEDIA_NODE_SECRETS);
  if (!auth.ok) return problem(401, "unauthorized", `Media node authentication failed (${auth.reason}).`);
  const callId = c.req.param("callId");
  const session = await locateSession(c.env, callId);
  if (!session) return problem(404, "not-found", `No call ${callId}.`);
  const snapshot = await session.snapshot();
  if (!snapshot || snapshot.record.nodeId !== auth.nodeId) return notYourCall(callId);
  let ring: ReturnType<typeof keyringFrom>;
  try {
    ring = keyringFrom(c.env);
  } catch {
    return problem(503, "service-unavailable", "Secrets are not configured on this edge.");
  }
  const { tenantId, jurisdiction } = snapshot.record;
  const { db, close } = openDb({ DATABASE_URL: databaseUrlFor(c.env, jurisdiction), DB_WS_PROXY: c.env.DB_WS_PROXY });
  try {
    const secrets = await toolSigningSecrets({ db, ring }, tenantId);
    return c.json({ tenantId, secrets }, 200, { "cache-control": "no-store" });
  } finally {
    c.executionCtx.waitUntil(close().catch(() => undefined));
  }
});

const prefixQuery = z.object({
  tenant: z.string().min(1).max(128),
  agent: z.string().min(1).max(128),
  version: z.coerce.number().int().min(1),
});

mediaRoutes.get("/media/prefixes/:hash", async (c) => {
  const auth = await authenticateNode(c.req.raw, "", c.env.MEDIA_NODE_SECRETS);
  if (!auth.ok) return problem(401, "unauthorized", `Media node authentication failed (${auth.reason}).`);
  const hash = c.req.param("hash");
  if (!/^[0-9a-f]{64}$/.test(hash)) return problem(400, "validation-error", "The hash is 64 lower-case hex digits.");
  const query = prefixQuery.safeParse(c.req.query());
  if (!query.success)
    return problem(400, "validation-error", "Query needs tenant, agent and version (as in the call token).");
  const { tenant, agent, version } = query.data;

  const fromDatabase = withEveryDatabase(c.env, c.var.db, async (dbs) => {
    for (const db of dbs) {
      const row = await findAgentVersion(db, tenant, agent, version);
      if (row) return { row, stored: await loadStoredPrefix(db, tenant, hash) };
    }
    return undefined;
  });
  // Postgres unreachable: a version the route cache has seen is served from its cache (versions never change, and
  // the hash check below holds either way); anything else is the 503 the error handler makes of the failure.
  const found = await withDeadline(fromDatabase, ROUTE_LOOKUP_DEADLINE_MS, "the agent version lookup").catch(
    async (error: unknown) => {
      if (!isDatabaseUnavailable(error)) throw error;
      const row = await readCachedVersion(c.env, tenant, agent, version);
      if (!row) throw error;
      return { row, stored: undefined };
    },
  );
  if (!found) return problem(404, "not-found", "No such agent version.");
  const { config, prefix } = await compileVersion(found.row);
  // The version is immutable, so its compiled prefix can only differ from the hash if the token was minted for
  // another version: refuse rather than run a call on a prompt it was not signed for.
  if (prefix.hash !== hash) return problem(409, "conflict", "That prefix hash does not belong to this agent version.");
  const served = found.stored ?? prefix;
  return c.json(
    {
      prefix: { hash: served.hash, system: served.system, tools: served.tools, canonical: served.canonical },
      agent: config,
    },
    200,
    // Content-addressed: the bytes behind a hash never change, so a node may keep them for good.
    { "cache-control": "private, max-age=31536000, immutable" },
  );
});
