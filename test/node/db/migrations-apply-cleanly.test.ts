import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getTableName } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, type NodeDb } from "../../../workers/src/db/node.ts";
import * as schema from "../../../workers/src/db/schema.ts";
import { type Backend, backends, rows, sql } from "./backends.ts";

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as {
  entries: Array<{ tag: string }>;
};
const tableNames = Object.values(schema)
  .filter(
    (v): v is typeof schema.accounts =>
      typeof v === "object" && v !== null && Symbol.for("drizzle:IsDrizzleTable") in v,
  )
  .map((t) => getTableName(t));

describe.each(backends)("migrations on $name", (backend: Backend) => {
  let db: NodeDb & { dispose: () => Promise<void> };
  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => db?.dispose());

  it("create every table of the schema, and applying them again changes nothing", async () => {
    await db.migrate();
    const applied = await rows<{ n: string }>(db, sql`select count(*)::text as n from drizzle.__drizzle_migrations`);
    expect(Number(applied[0]?.n)).toBe(journal.entries.length);

    const present = await rows<{ table_name: string }>(
      db,
      sql`select table_name from information_schema.tables where table_schema = 'public'`,
    );
    expect(present.map((r) => r.table_name).sort()).toEqual([...tableNames].sort());

    await db.migrate();
    const again = await rows<{ n: string }>(db, sql`select count(*)::text as n from drizzle.__drizzle_migrations`);
    expect(again).toEqual(applied);
  });
});
