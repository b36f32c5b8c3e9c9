// Sign-up and the caller's own account.

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { hashPassword } from "../../console/auth/password.ts";
import { accounts, apiKeys, JURISDICTIONS, users } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { mintApiKey } from "../../lib/api-key.ts";
import { audit } from "../../lib/audit.ts";
import { accountId, newAccountId, newResourceId, newUserId, pathParam } from "../../lib/ids.ts";
import { notFound, problems } from "../../lib/problem.ts";
import { E164, iso, Timestamp } from "../../lib/schemas.ts";
import { ALL_SCOPES } from "../../lib/scopes.ts";
import { authorize } from "../../middleware/auth.ts";
import { useHomeDatabase } from "../../middleware/database.ts";
import { refreshNumberRoutes } from "../../middleware/number-route-refresh.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { namespaceFor } from "../../residency/residency.ts";
import { apiKeyOut, NewApiKeySchema } from "../api-keys/schemas.ts";
import { jsonBody, needs } from "../common.ts";
import { Password } from "../users/routes.ts";
import { CallingHoursSchema, callingHoursOut, callingWindowOf } from "./calling-hours.ts";

const AccountSchema = z
  .object({
    id: accountId,
    name: z.string(),
    jurisdiction: z.enum(JURISDICTIONS).openapi({ description: "Where the account's calls and data stay." }),
    plan: z.string(),
    ownerPhone: E164.nullable(),
    callingHours: CallingHoursSchema.openapi({
      description: "Outbound calls are placed only inside this window of the callee's local time.",
    }),
    activeCalls: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Calls holding capacity right now (GET only); the plan caps it." }),
    createdAt: Timestamp,
  })
  .openapi("Account");

const AccountUpdateSchema = z
  .strictObject({
    callingHours: CallingHoursSchema.nullable().openapi({ description: "null restores the default, 08:00 to 21:00." }),
  })
  .openapi("AccountUpdate");

const UserSchema = z
  .object({
    id: z.string().openapi({ example: "USR-7TN8Q2W5HX" }),
    email: z.string(),
    name: z.string().nullable(),
    role: z.enum(["owner", "admin", "member"]),
    createdAt: Timestamp,
  })
  .openapi("User");

const SignUpSchema = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .openapi({ description: "Company or project name.", example: "Acme Dental" }),
    email: z.email().max(320).openapi({ description: "The first user's email.", example: "ops@acme.example" }),
    userName: z.string().trim().min(1).max(200).optional(),
    jurisdiction: z.enum(JURISDICTIONS).default("us"),
    ownerPhone: E164.optional().openapi({ description: "For SMS verification (later); E.164." }),
    password: Password.optional().openapi({
      description: "The first user's console password (PBKDF2-SHA-256). Without it the user cannot sign in yet.",
    }),
  })
  .openapi("SignUp");

const SignUpResultSchema = z
  .object({ account: AccountSchema, user: UserSchema, apiKey: NewApiKeySchema })
  .openapi("SignUpResult");

/**
 * A new account's rows (account, owner, key, audit entries) go to its jurisdiction's database, so the unit of
 * work must open there: this reads the jurisdiction from the body before validation does. A body it cannot read
 * is left to validation, which answers 400 before anything is written.
 */
const homeDatabaseOfSignUp: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
    const body: unknown = await c.req.json().catch(() => undefined);
    if (body && typeof body === "object") {
      const jurisdiction = SignUpSchema.shape.jurisdiction.safeParse((body as { jurisdiction?: unknown }).jurisdiction);
      if (jurisdiction.success) useHomeDatabase(c, jurisdiction.data);
    }
  }
  await next();
};

const signUp = createRoute({
  method: "post",
  path: "/accounts",
  tags: ["Accounts"],
  summary: "Sign up",
  description:
    "Creates an account, its first user (owner) and a first API key with every scope. No authentication. " +
    "The key is in this response only. Idempotency-Key is not honoured here: replaying a sign-up would hand out its key.",
  middleware: [homeDatabaseOfSignUp, unitOfWork()] as const,
  request: { body: { required: true, content: { "application/json": { schema: SignUpSchema } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: SignUpResultSchema } } },
    ...problems(400, 413, 415),
  },
});

const updateAccount = createRoute({
  method: "patch",
  path: "/accounts/{accountId}",
  tags: ["Accounts"],
  summary: "Update your account's settings",
  security: needs("calls:write"),
  middleware: [authorize("calls:write"), refreshNumberRoutes(), unitOfWork()] as const,
  request: {
    params: z.object({ accountId: pathParam("accountId", accountId) }),
    body: jsonBody(AccountUpdateSchema),
  },
  responses: {
    200: { description: "The account", content: { "application/json": { schema: AccountSchema } } },
    ...problems(400, 401, 403, 404),
  },
});

const getAccount = createRoute({
  method: "get",
  path: "/accounts/{accountId}",
  tags: ["Accounts"],
  summary: "Get your account",
  security: [{ bearerAuth: [] }],
  middleware: [authorize()] as const,
  request: { params: z.object({ accountId: pathParam("accountId", accountId) }) },
  responses: {
    200: { description: "The account", content: { "application/json": { schema: AccountSchema } } },
    ...problems(400, 401, 404),
  },
});

function accountOut(row: typeof accounts.$inferSelect): z.infer<typeof AccountSchema> {
  return {
    id: row.id as z.infer<typeof AccountSchema>["id"],
    name: row.name,
    jurisdiction: row.jurisdiction,
    plan: row.plan,
    ownerPhone: row.ownerPhone,
    callingHours: callingHoursOut(row),
    createdAt: iso(row.createdAt),
  };
}

export const accountsApi = new OpenAPIHono<AppEnv>()
  .openapi(signUp, async (c) => {
    const body = c.req.valid("json");
    const db = c.var.db;
    const tenantId = newAccountId();
    const userId = newUserId();
    const keyId = newResourceId("key");
    const minted = await mintApiKey(tenantId);

    const [account] = await db
      .insert(accounts)
      .values({ id: tenantId, name: body.name, jurisdiction: body.jurisdiction, ownerPhone: body.ownerPhone ?? null })
      .returning();
    const [user] = await db
      .insert(users)
      .values({
        tenantId,
        id: userId,
        email: body.email,
        name: body.userName ?? null,
        role: "owner",
        passwordHash: body.password ? await hashPassword(body.password) : null,
      })
      .returning();
    const [key] = await db
      .insert(apiKeys)
      .values({
        tenantId,
        id: keyId,
        name: "Initial key",
        prefix: minted.prefix,
        keyHash: minted.hash,
        scopes: [ALL_SCOPES],
        createdByUserId: userId,
      })
      .returning();
    if (!account || !user || !key) throw new Error("insert returned no row");

    const actor = { tenantId, type: "user" as const, id: userId };
    await audit(c, { action: "account.create", targetType: "account", targetId: tenantId }, actor);
    await audit(c, { action: "user.create", targetType: "user", targetId: userId }, actor);
    await audit(c, { action: "api_key.create", targetType: "api_key", targetId: keyId }, actor);

    return c.json(
      {
        account: accountOut(account),
        user: { id: user.id, email: user.email, name: user.name, role: user.role, createdAt: iso(user.createdAt) },
        apiKey: { ...apiKeyOut(key), key: minted.key },
      },
      201,
    );
  })
  .openapi(getAccount, async (c) => {
    const { accountId: id } = c.req.valid("param");
    // Only your own account exists for you; any other ID is a 404 like every other cross-tenant lookup.
    if (id !== c.var.auth.tenantId) throw notFound("account", id);
    const [row] = await c.var.db
      .select()
      .from(accounts)
      .where(and(eq(accounts.id, c.var.auth.tenantId)));
    if (!row) throw notFound("account", id);
    const limiter = namespaceFor(c.env.TENANT_LIMITER, c.env, row.jurisdiction).getByName(row.id);
    return c.json({ ...accountOut(row), activeCalls: (await limiter.leases()).length }, 200);
  })
  .openapi(updateAccount, async (c) => {
    const { accountId: id } = c.req.valid("param");
    if (id !== c.var.auth.tenantId) throw notFound("account", id);
    const { callingHours } = c.req.valid("json");
    const window = callingHours ? callingWindowOf(callingHours) : null;
    const [row] = await c.var.db
      .update(accounts)
      .set({ callingWindowStartMinute: window?.startMinute ?? null, callingWindowEndMinute: window?.endMinute ?? null })
      .where(eq(accounts.id, c.var.auth.tenantId))
      .returning();
    if (!row) throw notFound("account", id);
    await audit(c, { action: "account.update", targetType: "account", targetId: id });
    return c.json(accountOut(row), 200);
  });
