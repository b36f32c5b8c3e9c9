// The Citus-readiness rules, checked on the live catalog rather than trusted from the schema file: every
// tenant-owned table's primary key and unique indexes lead with tenant_id, and foreign keys carry tenant_id, so
// a row can never point at another tenant's row.
import { getTableName } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccountId, newResourceId } from "../../../shared/ids.ts";
import type { NodeDb } from "../../../workers/src/db/node.ts";
import { accounts, agents, agentVersions, tenantOwnedTables } from "../../../workers/src/db/schema.ts";
import { type Backend, backends, rows, sql } from "./backends.ts";

const tenantTables: string[] = Object.values(tenantOwnedTables).map((t) => getTableName(t));

describe.each(backends)("tenant keys on $name", (backend: Backend) => {
  let db: NodeDb & { dispose: () => Promise<void> };
  beforeAll(async () => {
    db = await backend.open();
    await db.migrate();
  });
  afterAll(async () => db?.dispose());

  it("leads every primary key and unique index of tenant-owned tables with tenant_id", async () => {
    const indexes = await rows<{ table: string; index: string; first: string; is_unique: boolean }>(
      db,
      sql`select c.relname as "table", i.relname as "index", a.attname as "first", x.indisunique as is_unique
          from pg_index x
          join pg_class c on c.oid = x.indrelid
          join pg_class i on i.oid = x.indexrelid
          join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
          join pg_attribute a on a.attrelid = c.oid and a.attnum = x.indkey[0]
          where x.indisunique`,
    );
    const offending = indexes.filter((r) => tenantTables.includes(r.table) && r.first !== "tenant_id");
    expect(offending).toEqual([]);
    // Every tenant-owned table has a key at all.
    expect(new Set(indexes.map((r) => r.table))).toEqual(new Set([...tenantTables, "accounts", "phone_number_routes"]));
  });

  it("includes tenant_id in every foreign key between tenant-owned tables", async () => {
    const fks = await rows<{ table: string; name: string; columns: string[] | string }>(
      db,
      sql`select c.relname as "table", k.conname as "name",
                 array(select a.attname from unnest(k.conkey) as u(n)
                       join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n)::text[] as "columns"
          from pg_constraint k join pg_class c on c.oid = k.conrelid
          where k.contype = 'f'`,
    );
    const missing = fks.filter((fk) => {
      const cols = Array.isArray(fk.columns) ? fk.columns : String(fk.columns).replace(/[{}]/g, "").split(",");
      return cols[0] !== "tenant_id";
    });
    expect(missing).toEqual([]);
    expect(fks.length).toBeGreaterThan(10);
  });

  it("lets two tenants use the same resource id, but never reference across tenants", async () => {
    const [t1, t2] = [newAccountId(), newAccountId()];
    for (const id of [t1, t2]) await db.db.insert(accounts).values({ id, name: id, jurisdiction: "us" });
    const agentId = newResourceId("agt");
    await db.db.insert(agents).values([
      { tenantId: t1, id: agentId, name: "one", latestVersion: 1 },
      { tenantId: t2, id: agentId, name: "two", latestVersion: 1 },
    ]);
    // A version of t1 pointing at an agent that only exists in t2 is refused by the composite foreign key.
    const loneAgent = newResourceId("agt");
    await db.db.insert(agents).values({ tenantId: t2, id: loneAgent, name: "t2 only", latestVersion: 1 });
    const crossTenant = db.db.insert(agentVersions).values({
      tenantId: t1,
      id: newResourceId("agv"),
      agentId: loneAgent,
      version: 1,
      name: "x",
      systemPrompt: "x",
      voice: "v",
      language: "en",
      modelPolicy: { opus: ["o"], sonnet: ["s"], haiku: ["h"], latencySensitive: false },
      tools: [],
      settings: {} as never,
    });
    await expect(crossTenant).rejects.toThrow();
  });
});
