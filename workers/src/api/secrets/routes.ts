// Tenant secrets in the API. Values go in and never come out: a response shows a prefix, except the one response
// that creates a platform-generated secret (the tool-signing secret), which shows it once.
// - /tool-signing-secret: the secret media nodes sign this tenant's tool webhooks with (docs/tools.md).
// - /secrets: secrets the tenant brings (its own Twilio account, credentials for its tools).
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray } from "drizzle-orm";
import { tenantSecrets } from "../../db/schema.ts";
import type { Db } from "../../db/types.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { pathParam, resourceId } from "../../lib/ids.ts";
import { afterCursor, pageOf, pageQuery, toPage } from "../../lib/pagination.ts";
import { notFound, ProblemError, problems } from "../../lib/problem.ts";
import { iso, isoOrNull, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { requestVault } from "../../secrets/request.ts";
import { rotateToolSecret, validToolSecrets } from "../../secrets/tool-signing.ts";
import { deleteSecret, replaceSecretValue, storeSecret } from "../../secrets/vault.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

const TENANT_KINDS = ["twilio", "generic"] as const;

const TwilioValue = z.strictObject({
  accountSid: z.string().regex(/^AC[0-9a-f]{32}$/, "A Twilio Account SID: AC followed by 32 hex digits"),
  authToken: z.string().regex(/^[0-9a-f]{32}$/, "A Twilio auth token: 32 hex digits"),
});
const GenericValue = z.string().min(1).max(4_096);

const SecretCreateSchema = z
  .discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("twilio").openapi({ description: "Your own Twilio account's credentials." }),
      name: z.string().trim().min(1).max(200),
      value: TwilioValue,
    }),
    z.strictObject({
      kind: z.literal("generic").openapi({ description: "Any credential a tool needs (an API key, a token)." }),
      name: z.string().trim().min(1).max(200),
      value: GenericValue,
    }),
  ])
  .openapi("SecretCreate");

const SecretReplaceSchema = z
  .strictObject({
    value: z.union([TwilioValue, GenericValue]).openapi({ description: "Same shape as at creation, by kind." }),
  })
  .openapi("SecretReplace");

const SecretSchema = z
  .object({
    id: resourceId("sec"),
    kind: z.enum(TENANT_KINDS),
    name: z.string(),
    prefix: z.string().openapi({ description: "Enough to tell secrets apart; the value is never returned." }),
    createdAt: Timestamp,
  })
  .openapi("Secret");
type SecretOut = z.infer<typeof SecretSchema>;

const ToolSecretSchema = z
  .object({
    prefix: z.string().openapi({ example: "tss_3f9a0c1e…" }),
    createdAt: Timestamp,
    previous: z
      .object({ prefix: z.string(), expiresAt: Timestamp })
      .nullable()
      .openapi({ description: "The secret it replaced, which still signs beside it until `expiresAt`." }),
  })
  .openapi("ToolSigningSecret");

const NewToolSecretSchema = ToolSecretSchema.extend({
  secret: z.string().nullable().openapi({
    description: "The new secret. Shown once, in this response only; a replayed idempotent request answers null.",
  }),
}).openapi("NewToolSigningSecret");

const SecretParams = z.object({ secretId: pathParam("secretId", resourceId("sec")) });

const getToolSecret = createRoute({
  method: "get",
  path: "/tool-signing-secret",
  tags: ["Secrets"],
  summary: "Get the tool-signing secret's prefix",
  description: "404 until the first rotation (or the first tool call, which creates one you have not seen).",
  security: needs("secrets:read"),
  middleware: [authorize("secrets:read")] as const,
  responses: { 200: jsonResponse(ToolSecretSchema, "The current secret (prefix only)"), ...problems(401, 403, 404) },
});

const rotateToolSecretRoute = createRoute({
  method: "post",
  path: "/tool-signing-secret/rotate",
  tags: ["Secrets"],
  summary: "Create or rotate the tool-signing secret",
  description:
    "Returns a new secret, once. Tool webhooks are signed with it from now on; the previous one keeps signing beside it for 24 hours (two `v1=` signatures).",
  security: needs("secrets:write"),
  middleware: [authorize("secrets:write"), unitOfWork({ redact: ["secret"] })] as const,
  responses: { 200: jsonResponse(NewToolSecretSchema, "The new secret"), ...problems(401, 403, 503) },
});

const createSecret = createRoute({
  method: "post",
  path: "/secrets",
  tags: ["Secrets"],
  summary: "Store a secret",
  description: "Encrypted under your account's own data key. The value is never returned; only a prefix.",
  security: needs("secrets:write"),
  middleware: [authorize("secrets:write"), unitOfWork()] as const,
  request: { body: jsonBody(SecretCreateSchema) },
  responses: { 201: jsonResponse(SecretSchema, "Stored"), ...problems(400, 401, 403, 413, 415, 422, 503) },
});

const listSecrets = createRoute({
  method: "get",
  path: "/secrets",
  tags: ["Secrets"],
  summary: "List secrets (never their values)",
  security: needs("secrets:read"),
  middleware: [authorize("secrets:read")] as const,
  request: { query: z.strictObject(pageQuery) },
  responses: { 200: jsonResponse(pageOf(SecretSchema, "SecretPage"), "A page of secrets"), ...problems(400, 401, 403) },
});

const getSecret = createRoute({
  method: "get",
  path: "/secrets/{secretId}",
  tags: ["Secrets"],
  summary: "Get a secret (never its value)",
  security: needs("secrets:read"),
  middleware: [authorize("secrets:read")] as const,
  request: { params: SecretParams },
  responses: { 200: jsonResponse(SecretSchema, "The secret"), ...problems(400, 401, 403, 404) },
});

const replaceSecret = createRoute({
  method: "put",
  path: "/secrets/{secretId}/value",
  tags: ["Secrets"],
  summary: "Replace a secret's value",
  security: needs("secrets:write"),
  middleware: [authorize("secrets:write"), unitOfWork()] as const,
  request: { params: SecretParams, body: jsonBody(SecretReplaceSchema) },
  responses: { 200: jsonResponse(SecretSchema, "Replaced"), ...problems(400, 401, 403, 404, 413, 415, 503) },
});

const deleteSecretRoute = createRoute({
  method: "delete",
  path: "/secrets/{secretId}",
  tags: ["Secrets"],
  summary: "Delete a secret",
  security: needs("secrets:write"),
  middleware: [authorize("secrets:write"), unitOfWork()] as const,
  request: { params: SecretParams },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404) },
});

/** What a listing may show of a value the tenant gave us. */
function prefixOf(kind: (typeof TENANT_KINDS)[number], value: z.infer<typeof TwilioValue> | string): string {
  if (kind === "twilio" && typeof value === "object") return `${value.accountSid.slice(0, 8)}…`;
  // Four characters of a long value say which key it is without giving away a useful part of it.
  return typeof value === "string" && value.length >= 20 ? `${value.slice(0, 4)}…` : "…";
}

function secretOut(row: typeof tenantSecrets.$inferSelect): SecretOut {
  return {
    id: row.id as SecretOut["id"],
    kind: row.kind as SecretOut["kind"],
    name: row.name,
    prefix: row.prefix,
    createdAt: iso(row.createdAt),
  };
}

async function loadTenantSecret(db: Db, tenantId: string, id: string) {
  const [row] = await db
    .select()
    .from(tenantSecrets)
    .where(
      and(
        eq(tenantSecrets.tenantId, tenantId),
        eq(tenantSecrets.id, id),
        inArray(tenantSecrets.kind, [...TENANT_KINDS]),
      ),
    );
  if (!row) throw notFound("secret", id);
  return row;
}

function toolSecretOut(valid: (typeof tenantSecrets.$inferSelect)[]) {
  const [current, previous] = valid;
  if (!current) return undefined;
  return {
    prefix: current.prefix,
    createdAt: iso(current.createdAt),
    previous: previous?.expiresAt ? { prefix: previous.prefix, expiresAt: isoOrNull(previous.expiresAt) ?? "" } : null,
  };
}

export const secretsApi = new OpenAPIHono<AppEnv>()
  .openapi(getToolSecret, async (c) => {
    const valid = await validToolSecrets(c.var.db, c.var.auth.tenantId);
    const out = toolSecretOut(valid);
    if (!out) throw notFound("tool-signing secret", "current");
    return c.json(out, 200);
  })
  .openapi(rotateToolSecretRoute, async (c) => {
    const vault = requestVault(c);
    const { tenantId } = c.var.auth;
    const { secret, row } = await rotateToolSecret(vault, tenantId);
    await audit(c, { action: "tool_signing_secret.rotate", targetType: "secret", targetId: row.id });
    const out = toolSecretOut(await validToolSecrets(vault.db, tenantId));
    if (!out) throw new Error("no tool-signing secret after rotating");
    return c.json({ ...out, secret }, 200);
  })
  .openapi(createSecret, async (c) => {
    const body = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const value = typeof body.value === "string" ? body.value : JSON.stringify(body.value);
    const row = await storeSecret(requestVault(c), tenantId, {
      kind: body.kind,
      name: body.name,
      value,
      prefix: prefixOf(body.kind, body.value),
    });
    await audit(c, { action: "secret.create", targetType: "secret", targetId: row.id });
    return c.json(secretOut(row), 201);
  })
  .openapi(listSecrets, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = await c.var.db
      .select()
      .from(tenantSecrets)
      .where(
        and(
          eq(tenantSecrets.tenantId, c.var.auth.tenantId),
          inArray(tenantSecrets.kind, [...TENANT_KINDS]),
          afterCursor(cursor, tenantSecrets.createdAt, tenantSecrets.id),
        ),
      )
      .orderBy(desc(tenantSecrets.createdAt), desc(tenantSecrets.id))
      .limit(limit + 1);
    return c.json(toPage(rows, limit, secretOut), 200);
  })
  .openapi(getSecret, async (c) => {
    const { secretId } = c.req.valid("param");
    return c.json(secretOut(await loadTenantSecret(c.var.db, c.var.auth.tenantId, secretId)), 200);
  })
  .openapi(replaceSecret, async (c) => {
    const { secretId } = c.req.valid("param");
    const { value } = c.req.valid("json");
    const { tenantId } = c.var.auth;
    const existing = await loadTenantSecret(c.var.db, tenantId, secretId);
    const kind = existing.kind as (typeof TENANT_KINDS)[number];
    const checked = kind === "twilio" ? TwilioValue.safeParse(value) : GenericValue.safeParse(value);
    if (!checked.success) {
      throw new ProblemError("validation-error", `The value does not fit a ${kind} secret.`, {
        errors: [{ location: "body", pointer: "/value", detail: checked.error.issues[0]?.message ?? "invalid" }],
      });
    }
    const text = typeof checked.data === "string" ? checked.data : JSON.stringify(checked.data);
    const row = await replaceSecretValue(requestVault(c), tenantId, secretId, text, prefixOf(kind, checked.data));
    if (!row) throw notFound("secret", secretId);
    await audit(c, { action: "secret.replace", targetType: "secret", targetId: secretId });
    return c.json(secretOut(row), 200);
  })
  .openapi(deleteSecretRoute, async (c) => {
    const { secretId } = c.req.valid("param");
    const { tenantId } = c.var.auth;
    await loadTenantSecret(c.var.db, tenantId, secretId);
    await deleteSecret(c.var.db, tenantId, secretId);
    await audit(c, { action: "secret.delete", targetType: "secret", targetId: secretId });
    return c.body(null, 204);
  });
