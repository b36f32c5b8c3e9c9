import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccountId, newResourceId } from "../../../shared/ids.ts";
import type { NodeDb } from "../../../workers/src/db/node.ts";
import { accounts, auditLog } from "../../../workers/src/db/schema.ts";
import { type Backend, backends, rows, sql } from "./backends.ts";

describe.each(backends)("audit log on $name", (backend: Backend) => {
  let db: NodeDb & { dispose: () => Promise<void> };
  const tenantId = newAccountId();
  beforeAll(async () => {
    db = await backend.open();
    await db.migrate();
    await db.db.insert(accounts).values({ id: tenantId, name: "t", jurisdiction: "eu" });
    await db.db.insert(auditLog).values({
      tenantId,
      id: newResourceId("aud"),
      actorType: "system",
      action: "account.create",
      targetType: "account",
      targetId: tenantId,
    });
  });
  afterAll(async () => db?.dispose());

  const count = async () =>
    Number((await rows<{ n: string }>(db, sql`select count(*)::text as n from audit_log`))[0]?.n);

  it("accepts new entries", async () => {
    await db.db.insert(auditLog).values({
      tenantId,
      id: newResourceId("aud"),
      actorType: "system",
      action: "agent.create",
      targetType: "agent",
      targetId: "agt_x",
    });
    expect(await count()).toBe(2);
  });

  it.each([
    ["UPDATE", sql`update audit_log set action = 'nothing.happened'`],
    ["DELETE", sql`delete from audit_log`],
    ["TRUNCATE", sql`truncate audit_log`],
  ])("rejects %s and keeps every entry", async (_op, statement) => {
    const before = await rows(db, sql`select * from audit_log order by id`);
    const error = await db.db.execute(statement).then(
      () => undefined,
      (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
    );
    expect(error).toMatch(/not allowed: rows are append-only/);
    expect(await rows(db, sql`select * from audit_log order by id`)).toEqual(before);
    expect(before.length).toBeGreaterThan(0);
  });
});
