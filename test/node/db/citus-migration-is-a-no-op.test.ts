// The Citus distribution migration runs everywhere; without the extension it must do nothing, and it must
// name every tenant-owned table (a table added later without distributing it would break sharding silently).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getTableName } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, type NodeDb } from "../../../workers/src/db/node.ts";
import { tenantOwnedTables } from "../../../workers/src/db/schema.ts";
import { type Backend, backends, rows, sql } from "./backends.ts";

const citusFiles = readdirSync(MIGRATIONS_DIR).filter((f) => /citus/.test(f) && f.endsWith(".sql"));
const citusSql = citusFiles.map((f) => readFileSync(join(MIGRATIONS_DIR, f), "utf8")).join("\n");

const CATALOG = sql`select c.relname, c.relkind, (select count(*) from pg_constraint k where k.conrelid = c.oid)::text as constraints
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' order by c.relname`;

describe("Citus distribution migration", () => {
  it("distributes every tenant-owned table by tenant_id, co-located with accounts", () => {
    expect(citusFiles.length).toBeGreaterThan(0);
    const distributed = [...citusSql.matchAll(/create_distributed_table\('(\w+)',\s*'(\w+)'/g)].map((m) => [
      m[1],
      m[2],
    ]);
    const expected = Object.values(tenantOwnedTables).map((t) => [getTableName(t), "tenant_id"]);
    expect(distributed).toEqual(expect.arrayContaining([["accounts", "id"], ...expected]));
    expect(distributed).toHaveLength(expected.length + 1);
    expect(citusSql).toContain("create_reference_table('phone_number_routes')");
  });
});

describe.each(backends)("Citus migration on $name (no citus extension)", (backend: Backend) => {
  let db: NodeDb & { dispose: () => Promise<void> };
  beforeAll(async () => {
    db = await backend.open();
    await db.migrate();
  });
  afterAll(async () => db?.dispose());

  it("was applied as part of the migrations and changes nothing when run again", async () => {
    const citus = await rows(db, sql`select 1 from pg_extension where extname = 'citus'`);
    expect(citus).toEqual([]);
    const before = await rows(db, CATALOG);
    for (const statement of citusSql.split("--> statement-breakpoint")) {
      if (statement.trim()) await db.db.execute(sql.raw(statement));
    }
    expect(await rows(db, CATALOG)).toEqual(before);
    expect(before.length).toBeGreaterThan(10);
  });
});
