// Console users of an account: list, and add one (owners, or an API key with keys:admin). The first user, the
// owner, is created at sign-up (POST /v1/accounts with a password).
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { desc, eq } from "drizzle-orm";
import { hashPassword } from "../../console/auth/password.ts";
import { users } from "../../db/schema.ts";
import type { AppEnv } from "../../env.ts";
import { audit } from "../../lib/audit.ts";
import { newUserId } from "../../lib/ids.ts";
import { ProblemError, problems } from "../../lib/problem.ts";
import { iso, Timestamp } from "../../lib/schemas.ts";
import { authorize } from "../../middleware/auth.ts";
import { unitOfWork } from "../../middleware/unit-of-work.ts";
import { jsonBody, jsonResponse, needs } from "../common.ts";

/** 10 characters at least (NIST SP 800-63B asks for 8 or more, and for no composition rules). */
export const Password = z.string().min(10, "at least 10 characters").max(200);

const UserOut = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: z.enum(["owner", "admin", "member"]),
    canSignIn: z.boolean(),
    createdAt: Timestamp,
  })
  .openapi("ConsoleUser");

const UserCreate = z
  .strictObject({
    email: z.email().max(320),
    name: z.string().trim().min(1).max(200).optional(),
    role: z.enum(["admin", "member"]).default("member"),
    password: Password.openapi({ description: "The new user's first password; they can sign in with it at once." }),
  })
  .openapi("ConsoleUserCreate");

const listUsers = createRoute({
  method: "get",
  path: "/users",
  tags: ["Users"],
  summary: "List the account's console users",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin")] as const,
  responses: { 200: jsonResponse(z.object({ data: z.array(UserOut) }), "The users"), ...problems(401, 403) },
});

const createUser = createRoute({
  method: "post",
  path: "/users",
  tags: ["Users"],
  summary: "Add a console user (owners only)",
  security: needs("keys:admin"),
  middleware: [authorize("keys:admin"), unitOfWork()] as const,
  request: { body: jsonBody(UserCreate) },
  responses: { 201: jsonResponse(UserOut, "Added"), ...problems(400, 401, 403, 409) },
});

function userOut(row: typeof users.$inferSelect): z.infer<typeof UserOut> {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    canSignIn: row.passwordHash !== null,
    createdAt: iso(row.createdAt),
  };
}

export const usersApi = new OpenAPIHono<AppEnv>()
  .openapi(listUsers, async (c) => {
    const rows = await c.var.db
      .select()
      .from(users)
      .where(eq(users.tenantId, c.var.auth.tenantId))
      .orderBy(desc(users.createdAt));
    return c.json({ data: rows.map(userOut) }, 200);
  })
  .openapi(createUser, async (c) => {
    const { tenantId, role } = c.var.auth;
    if (role !== null && role !== "owner") {
      throw new ProblemError("insufficient-scope", "Only the account's owner can add users.");
    }
    const body = c.req.valid("json");
    const [row] = await c.var.db
      .insert(users)
      .values({
        tenantId,
        id: newUserId(),
        email: body.email,
        name: body.name ?? null,
        role: body.role,
        passwordHash: await hashPassword(body.password),
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ProblemError("conflict", `${body.email} is already a user of this account.`);
    await audit(c, { action: "user.create", targetType: "user", targetId: row.id });
    return c.json(userOut(row), 201);
  });
