import { env } from "cloudflare:workers";
import { OpenAPIHono } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agents, auditLog } from "../../workers/src/db/schema.ts";
import type { AppEnv } from "../../workers/src/env.ts";
import { audit } from "../../workers/src/lib/audit.ts";
import { errorResponse } from "../../workers/src/lib/errors.ts";
import { newResourceId } from "../../workers/src/lib/ids.ts";
import { ProblemError } from "../../workers/src/lib/problem.ts";
import { authorize } from "../../workers/src/middleware/auth.ts";
import { database } from "../../workers/src/middleware/database.ts";
import { requestId } from "../../workers/src/middleware/request-id.ts";
import { unitOfWork } from "../../workers/src/middleware/unit-of-work.ts";
import { auditActions, signUp, withDb } from "./helpers.ts";

// A route that writes an agent and its audit entry, then fails: the real middleware stack must leave nothing.
function appThatFailsAfterWriting(failWith: () => never) {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", requestId(), database());
  app.post("/write-then-fail", authorize("agents:write"), unitOfWork(), async (c) => {
    const id = newResourceId("agt");
    await c.var.db.insert(agents).values({ tenantId: c.var.auth.tenantId, id, name: "half", latestVersion: 1 });
    await audit(c, { action: "agent.create", targetType: "agent", targetId: id });
    failWith();
  });
  app.onError((err, c) => errorResponse(err, c));
  return app;
}

describe("a write that fails part-way", () => {
  for (const [name, failWith] of [
    [
      "with a problem",
      () => {
        throw new ProblemError("conflict", "changed my mind");
      },
    ],
    [
      "with a crash",
      () => {
        throw new Error("boom");
      },
    ],
  ] as const) {
    it(`leaves neither the change nor its audit entry when it fails ${name}`, async () => {
      const t = await signUp();
      const auditBefore = await auditActions(t.accountId);
      const res = await appThatFailsAfterWriting(failWith).request(
        "/write-then-fail",
        { method: "POST", headers: { authorization: `Bearer ${t.key}` } },
        env,
      );
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const left = await withDb((db) => db.select().from(agents).where(eq(agents.tenantId, t.accountId)));
      expect(left).toEqual([]);
      expect(await auditActions(t.accountId)).toEqual(auditBefore);
      const entries = await withDb((db) => db.select().from(auditLog).where(eq(auditLog.action, "agent.create")));
      expect(entries.filter((e) => e.tenantId === t.accountId)).toEqual([]);
    });
  }
});
