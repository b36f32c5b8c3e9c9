// Agent and agent-version shapes. An agent's runtime settings are the shared AgentRuntimeConfig (what a media
// node runs) minus the identifiers, so what the API accepts is exactly what a call can execute.
import { z } from "@hono/zod-openapi";
import { AgentRuntimeConfigSchema } from "../../../../shared/agent-config.ts";
import type { agents, agentVersions } from "../../db/schema.ts";
import { resourceId } from "../../lib/ids.ts";
import { iso, Timestamp } from "../../lib/schemas.ts";

const RuntimeFields = AgentRuntimeConfigSchema.omit({ tenantId: true, agentId: true, version: true });

export const AgentConfigSchema = RuntimeFields.openapi("AgentConfig", {
  description: "What a call runs with. Omitted fields take the defaults shown.",
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

type Unwrapped<T> = T extends z.ZodDefault<infer I> ? I : T extends z.ZodPrefault<infer I> ? I : T;
type PatchShape<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.ZodOptional<Unwrapped<S[K]>> };

/**
 * Every config field optional and without its default. zod applies defaults inside `.partial()`, which would
 * silently reset fields a PATCH did not mention.
 */
function patchOf<S extends Record<string, z.ZodType>>(shape: S) {
  const out: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(shape)) {
    const inner = field instanceof z.ZodDefault || field instanceof z.ZodPrefault ? field.unwrap() : field;
    out[key] = (inner as z.ZodType).optional();
  }
  return z.strictObject(out as PatchShape<S>);
}

const AgentName = z.string().trim().min(1).max(200).openapi({ example: "Front desk" });

export const AgentCreateSchema = z
  .strictObject({
    name: AgentName,
    config: AgentConfigSchema,
    publish: z.boolean().default(false).openapi({ description: "Publish version 1 at once." }),
  })
  .openapi("AgentCreate");

export const AgentUpdateSchema = z
  .strictObject({
    name: AgentName.optional(),
    config: patchOf(RuntimeFields.shape)
      .optional()
      .openapi("AgentConfigPatch", { description: "Top-level fields given replace the previous version's." }),
    publish: z.boolean().optional().openapi({ description: "Publish the resulting version." }),
  })
  .openapi("AgentUpdate");
export type AgentPatch = z.output<typeof AgentUpdateSchema>;

export const PublishSchema = z
  .strictObject({ version: z.number().int().min(1).openapi({ description: "Version number to publish." }) })
  .openapi("AgentPublish");

export const AgentSchema = z
  .object({
    id: resourceId("agt"),
    name: z.string(),
    version: z.number().int().openapi({ description: "Latest version number." }),
    versionId: resourceId("agv"),
    config: AgentConfigSchema.openapi({ description: "Config of the latest version." }),
    publishedVersion: z.number().int().nullable().openapi({ description: "The version new calls use." }),
    publishedVersionId: resourceId("agv").nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Agent");
export type AgentOut = z.infer<typeof AgentSchema>;

export const AgentVersionSchema = z
  .object({
    id: resourceId("agv"),
    agentId: resourceId("agt"),
    version: z.number().int(),
    name: z.string(),
    config: AgentConfigSchema,
    published: z.boolean(),
    createdAt: Timestamp,
  })
  .openapi("AgentVersion");
export type AgentVersionOut = z.infer<typeof AgentVersionSchema>;

type VersionRow = typeof agentVersions.$inferSelect;
type AgentRow = typeof agents.$inferSelect;

export function configOf(v: VersionRow): AgentConfig {
  return {
    ...v.settings,
    systemPrompt: v.systemPrompt,
    firstMessage: v.firstMessage,
    voice: v.voice,
    language: v.language,
    modelPolicy: v.modelPolicy,
    tools: v.tools,
    thinkingBudgetTokens: v.thinkingBudgetTokens,
  };
}

/** Splits a config into the agent_versions columns (the fields queried on their own) and `settings`. */
export function versionColumnsOf(config: AgentConfig) {
  const { systemPrompt, firstMessage, voice, language, modelPolicy, tools, thinkingBudgetTokens, ...settings } = config;
  return { systemPrompt, firstMessage, voice, language, modelPolicy, tools, thinkingBudgetTokens, settings };
}

export function agentOut(agent: AgentRow, latest: VersionRow, publishedVersion: number | null): AgentOut {
  return {
    id: agent.id as AgentOut["id"],
    name: agent.name,
    version: latest.version,
    versionId: latest.id as AgentOut["versionId"],
    config: configOf(latest),
    publishedVersion,
    publishedVersionId: agent.publishedVersionId as AgentOut["publishedVersionId"],
    createdAt: iso(agent.createdAt),
    updatedAt: iso(agent.updatedAt),
  };
}

export function versionOut(v: VersionRow, publishedVersionId: string | null): AgentVersionOut {
  return {
    id: v.id as AgentVersionOut["id"],
    agentId: v.agentId as AgentVersionOut["agentId"],
    version: v.version,
    name: v.name,
    config: configOf(v),
    published: v.id === publishedVersionId,
    createdAt: iso(v.createdAt),
  };
}
