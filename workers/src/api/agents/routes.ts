// Agents and their immutable versions. Every change writes a new version; the published version is the one new
// calls use, so editing never disturbs live traffic until the tenant publishes.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { AgentRuntimeConfigSchema } from "../../../../shared/agent-config.ts";
import { agents, agentVersions, phoneNumbers } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { newResourceId, pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { fieldErrors, notFound, ProblemError, problems } from "../../lib/problem.ts";
import { authorize } from "../../middleware/auth.ts";
import { refreshNumberRoutes } from "../../middleware/number-route-refresh.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { findAgentVersion, storePublishedPrefix } from "../../prefix/store.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";
import {
  type AgentConfig,
  AgentCreateSchema,
  AgentSchema,
  AgentUpdateSchema,
  AgentVersionSchema,
  agentOut,
  configOf,
  PublishSchema,
  versionColumnsOf,
  versionOut,
} from "./schemas.ts";

const AgentParams = z.object({ agentId: pathParam("agentId", resourceId("agt")) });
const VersionParams = AgentParams.extend({
  version: pathParam("version", z.coerce.number().int().min(1)),
});

const createAgent = createRoute({
  method: "post",
  path: "/agents",
  tags: ["Agents"],
  summary: "Create an agent (version 1)",
  security: needs("agents:write"),
  middleware: [authorize("agents:write"), unitOfWork()] as const,
  request: { body: jsonBody(AgentCreateSchema) },
  responses: { 201: jsonResponse(AgentSchema, "Created"), ...problems(400, 401, 403, 413, 415, 422) },
});

const listAgents = createRoute({
  method: "get",
  path: "/agents",
  tags: ["Agents"],
  summary: "List agents",
  security: needs("agents:read"),
  middleware: [authorize("agents:read")] as const,
  request: { query: z.strictObject(pageQuery) },
  responses: { 200: jsonResponse(pageOf(AgentSchema, "AgentPage"), "A page of agents"), ...problems(400, 401, 403) },
});

const getAgent = createRoute({
  method: "get",
  path: "/agents/{agentId}",
  tags: ["Agents"],
  summary: "Get an agent",
  security: needs("agents:read"),
  middleware: [authorize("agents:read")] as const,
  request: { params: AgentParams },
  responses: { 200: jsonResponse(AgentSchema, "The agent"), ...problems(400, 401, 403, 404) },
});

const updateAgent = createRoute({
  method: "patch",
  path: "/agents/{agentId}",
  tags: ["Agents"],
  summary: "Change an agent (writes a new version)",
  description:
    "Fields given replace those of the latest version and become a new version. " +
    "With only `publish`, publishes the latest version without writing a new one.",
  security: needs("agents:write"),
  middleware: [authorize("agents:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { params: AgentParams, body: jsonBody(AgentUpdateSchema) },
  responses: { 200: jsonResponse(AgentSchema, "The agent"), ...problems(400, 401, 403, 404, 413, 415) },
});

const deleteAgent = createRoute({
  method: "delete",
  path: "/agents/{agentId}",
  tags: ["Agents"],
  summary: "Delete an agent",
  description: "Its versions stay, for the calls that used them. Detach its phone numbers first.",
  security: needs("agents:write"),
  middleware: [authorize("agents:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { params: AgentParams },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 409) },
});

const listVersions = createRoute({
  method: "get",
  path: "/agents/{agentId}/versions",
  tags: ["Agents"],
  summary: "List an agent's versions, newest first",
  security: needs("agents:read"),
  middleware: [authorize("agents:read")] as const,
  request: { params: AgentParams, query: z.strictObject(pageQuery) },
  responses: {
    200: jsonResponse(pageOf(AgentVersionSchema, "AgentVersionPage"), "A page of versions"),
    ...problems(400, 401, 403, 404),
  },
});

const getVersion = createRoute({
  method: "get",
  path: "/agents/{agentId}/versions/{version}",
  tags: ["Agents"],
  summary: "Get one version of an agent",
  security: needs("agents:read"),
  middleware: [authorize("agents:read")] as const,
  request: { params: VersionParams },
  responses: { 200: jsonResponse(AgentVersionSchema, "The version"), ...problems(400, 401, 403, 404) },
});

const publishAgent = createRoute({
  method: "post",
  path: "/agents/{agentId}/publish",
  tags: ["Agents"],
  summary: "Publish a version",
  description: "New calls use the published version. Publishing an older version rolls back.",
  security: needs("agents:write"),
  middleware: [authorize("agents:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: { params: AgentParams, body: jsonBody(PublishSchema) },
  responses: { 200: jsonResponse(AgentSchema, "The agent"), ...problems(400, 401, 403, 404, 413, 415, 422) },
});

const publishedAlias = alias(agentVersions, "published_version");

/** Agent rows with their latest version and the published version's number, scoped to one tenant. */
function selectAgents(db: Db, tenantId: string) {
  return db
    .select({ agent: agents, latest: agentVersions, publishedVersion: publishedAlias.version })
    .from(agents)
    .innerJoin(
      agentVersions,
      and(
        eq(agentVersions.tenantId, agents.tenantId),
        eq(agentVersions.agentId, agents.id),
        eq(agentVersions.version, agents.latestVersion),
      ),
    )
    .leftJoin(
      publishedAlias,
      and(eq(publishedAlias.tenantId, agents.tenantId), eq(publishedAlias.id, agents.publishedVersionId)),
    )
    .where(and(eq(agents.tenantId, tenantId), isNull(agents.deletedAt)))
    .$dynamic();
}

async function loadAgent(db: Db, tenantId: string, agentId: string) {
  const [row] = await selectAgents(db, tenantId).where(
    and(eq(agents.tenantId, tenantId), eq(agents.id, agentId), isNull(agents.deletedAt)),
  );
  if (!row) throw notFound("agent", agentId);
  return agentOut(row.agent, row.latest, row.publishedVersion);
}

/** Locks the agent row for the rest of the transaction, so concurrent edits get consecutive version numbers. */
async function lockAgent(db: Db, tenantId: string, agentId: string) {
  const [agent] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId), isNull(agents.deletedAt)))
    .for("update");
  if (!agent) throw notFound("agent", agentId);
  return agent;
}

/** Re-validates a merged config the way a media node will read it, reporting problems under /config. */
function checkedConfig(config: AgentConfig, ids: { tenantId: string; agentId: string; version: number }) {
  const result = AgentRuntimeConfigSchema.safeParse({ ...config, ...ids });
  if (result.success) {
    const { tenantId: _t, agentId: _a, version: _v, ...checked } = result.data;
    return checked;
  }
  const errors = fieldErrors(result.error, "body").map((e) => ({ ...e, pointer: `/config${e.pointer}` }));
  throw new ProblemError("validation-error", "The resulting agent configuration is not valid.", { errors });
}

export const agentsApi = new OpenAPIHono<AppEnv>()
  .openapi(createAgent, async (c) => {
    const body = c.req.valid("json");
    const { tenantId, keyId } = c.var.auth;
    const db = c.var.db;
    const agentId = newResourceId("agt");
    const versionId = newResourceId("agv");
    const config = checkedConfig(body.config, { tenantId, agentId, version: 1 });

    await db.insert(agents).values({ tenantId, id: agentId, name: body.name, latestVersion: 1 });
    await db.insert(agentVersions).values({
      tenantId,
      id: versionId,
      agentId,
      version: 1,
      name: body.name,
      createdByKeyId: keyId,
      ...versionColumnsOf(config),
    });
    await audit(c, { action: "agent.create", targetType: "agent", targetId: agentId, afterId: versionId });
    if (body.publish) {
      await db
        .update(agents)
        .set({ publishedVersionId: versionId })
        .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
      await storePublishedPrefix(db, tenantId, versionId);
      await audit(c, { action: "agent.publish", targetType: "agent", targetId: agentId, afterId: versionId });
    }
    return c.json(await loadAgent(db, tenantId, agentId), 201);
  })
  .openapi(listAgents, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const { tenantId } = c.var.auth;
    const rows = await selectAgents(c.var.db, tenantId)
      .where(
        and(eq(agents.tenantId, tenantId), isNull(agents.deletedAt), afterCursor(cursor, agents.createdAt, agents.id)),
      )
      .orderBy(desc(agents.createdAt), desc(agents.id))
      .limit(limit + 1);
    const page = toPage(
      rows.map((r) => ({ ...r, createdAt: r.agent.createdAt, id: r.agent.id })),
      limit,
      (r) => agentOut(r.agent, r.latest, r.publishedVersion),
    );
    return c.json(page, 200);
  })
  .openapi(getAgent, async (c) => {
    const { agentId } = c.req.valid("param");
    return c.json(await loadAgent(c.var.db, c.var.auth.tenantId, agentId), 200);
  })
  .openapi(updateAgent, async (c) => {
    const { agentId } = c.req.valid("param");
    const patch = c.req.valid("json");
    const { tenantId, keyId } = c.var.auth;
    const db = c.var.db;
    const agent = await lockAgent(db, tenantId, agentId);
    const latest = await findAgentVersion(db, tenantId, agentId, agent.latestVersion);
    if (!latest) throw new Error(`agent ${agentId} has no version ${agent.latestVersion}`);

    let current = latest;
    const configPatch = Object.fromEntries(Object.entries(patch.config ?? {}).filter(([, v]) => v !== undefined));
    if (patch.name !== undefined || Object.keys(configPatch).length > 0) {
      const version = agent.latestVersion + 1;
      const name = patch.name ?? agent.name;
      const config = checkedConfig({ ...configOf(latest), ...configPatch } as AgentConfig, {
        tenantId,
        agentId,
        version,
      });
      const [written] = await db
        .insert(agentVersions)
        .values({
          tenantId,
          id: newResourceId("agv"),
          agentId,
          version,
          name,
          createdByKeyId: keyId,
          ...versionColumnsOf(config),
        })
        .returning();
      if (!written) throw new Error("insert returned no row");
      await db
        .update(agents)
        .set({ name, latestVersion: version, updatedAt: new Date() })
        .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
      await audit(c, {
        action: "agent.update",
        targetType: "agent",
        targetId: agentId,
        beforeId: latest.id,
        afterId: written.id,
      });
      current = written;
    }
    if (patch.publish && agent.publishedVersionId !== current.id) {
      await db
        .update(agents)
        .set({ publishedVersionId: current.id, updatedAt: new Date() })
        .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
      await storePublishedPrefix(db, tenantId, current.id);
      await audit(c, {
        action: "agent.publish",
        targetType: "agent",
        targetId: agentId,
        beforeId: agent.publishedVersionId,
        afterId: current.id,
      });
    }
    return c.json(await loadAgent(db, tenantId, agentId), 200);
  })
  .openapi(deleteAgent, async (c) => {
    const { agentId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const db = c.var.db;
    await lockAgent(db, tenantId, agentId);
    const attached = await db
      .select({ id: phoneNumbers.id })
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.agentId, agentId)))
      .limit(1);
    if (attached.length > 0) {
      throw new ProblemError("conflict", "Phone numbers still answer with this agent; detach them first.");
    }
    await db
      .update(agents)
      .set({ deletedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
    await audit(c, { action: "agent.delete", targetType: "agent", targetId: agentId });
    return c.body(null, 204);
  })
  .openapi(listVersions, async (c) => {
    const { agentId } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    const { tenantId } = c.var.auth;
    const agent = await loadAgent(c.var.db, tenantId, agentId);
    const rows = await c.var.db
      .select()
      .from(agentVersions)
      .where(
        and(
          eq(agentVersions.tenantId, tenantId),
          eq(agentVersions.agentId, agentId),
          afterCursor(cursor, agentVersions.createdAt, agentVersions.id),
        ),
      )
      .orderBy(desc(agentVersions.createdAt), desc(agentVersions.id))
      .limit(limit + 1);
    return c.json(
      toPage(rows, limit, (v) => versionOut(v, agent.publishedVersionId)),
      200,
    );
  })
  .openapi(getVersion, async (c) => {
    const { agentId, version } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    const agent = await loadAgent(c.var.db, tenantId, agentId);
    const row = await findAgentVersion(c.var.db, tenantId, agentId, version);
    if (!row) throw notFound(`version of agent ${agentId}:`, version);
    return c.json(versionOut(row, agent.publishedVersionId), 200);
  })
  .openapi(publishAgent, async (c) => {
    const { agentId } = c.req.valid("param");
    const { version } = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const db = c.var.db;
    const agent = await lockAgent(db, tenantId, agentId);
    const [target] = await db
      .select({ id: agentVersions.id })
      .from(agentVersions)
      .where(
        and(
          eq(agentVersions.tenantId, tenantId),
          eq(agentVersions.agentId, agentId),
          eq(agentVersions.version, version),
        ),
      );
    if (!target) throw notFound(`version of agent ${agentId}:`, version);
    if (agent.publishedVersionId !== target.id) {
      await db
        .update(agents)
        .set({ publishedVersionId: target.id, updatedAt: new Date() })
        .where(and(eq(agents.tenantId, tenantId), eq(agents.id, agentId)));
      await storePublishedPrefix(db, tenantId, target.id);
      await audit(c, {
        action: "agent.publish",
        targetType: "agent",
        targetId: agentId,
        beforeId: agent.publishedVersionId,
        afterId: target.id,
      });
    }
    return c.json(await loadAgent(db, tenantId, agentId), 200);
  });
