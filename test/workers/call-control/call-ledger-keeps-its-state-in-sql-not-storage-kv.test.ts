// CallLedger keeps its session in a table of its own (SqlKv) instead of ctx.storage.kv, whose first use makes
// workerd keep every evicted object's storage in memory (docs/reliability.md, "Memory over time"). An object
// written by earlier code, with its session in ctx.storage.kv, has it copied over and goes on as before.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CallLedger } from "../../../workers/src/do/call-ledger/call-ledger.ts";
import { SqlKv } from "../../../workers/src/do/sql-kv.ts";
import { callRecord, edge, seedTenant } from "./fixtures.ts";

describe("CallLedger state storage", () => {
  it("stores the session in its kv table, readable as JSON, and never in ctx.storage.kv", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    const rows = await runInDurableObject(session, (_i: CallLedger, state) =>
      state.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM kv").toArray(),
    );
    expect(rows.map((r) => r.key)).toContain("session");
    expect(JSON.parse(rows.find((r) => r.key === "session")?.value ?? "{}").record.callId).toBe(record.callId);
    expect((await session.snapshot())?.state).toBe("routed");
  });

  it("SqlKv copies what an older object kept in ctx.storage.kv, once", async () => {
    const record = callRecord(await seedTenant());
    const session = edge.CALL_LEDGER.getByName(`legacy-${record.callId}`);
    const copied = await runInDurableObject(session, (_i: CallLedger, state) => {
      state.storage.sql.exec("DROP TABLE kv");
      state.storage.kv.put("session", { state: "routed", record });
      state.storage.kv.put("failures", 2);
      const { kv, created } = SqlKv.open(state.storage.sql);
      kv.migrateFrom(() => state.storage.kv, ["session", "retryAt", "failures"]);
      return { created, session: kv.get<{ record: { callId: string } }>("session"), failures: kv.get("failures") };
    });
    expect(copied).toEqual({ created: true, session: { state: "routed", record }, failures: 2 });
    expect(
      await runInDurableObject(session, (_i: CallLedger, state) => {
        const again = SqlKv.open(state.storage.sql);
        return { created: again.created, deleted: again.kv.delete("failures"), after: again.kv.get("failures") };
      }),
    ).toEqual({ created: false, deleted: true, after: undefined });
  });
});
