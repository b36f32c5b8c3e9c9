// What one call costs the edge in Postgres connections, counted where workerd opens them (the loopback proxy that
// carries Neon's WebSocket). Each one is an outbound WebSocket whose native memory workerd keeps
// (docs/reliability.md, "Where the edge's workerd memory goes"); a two-line call used to open 20, 17 of them the
// CallLedger's outbox flushing once per checkpoint. The outbox now lets rows wait for each other, and nothing the
// call said may be lost for it: every turn still reaches Postgres.
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { newCallSid, runCall } from "../../../emulators/twilio-caller/caller.ts";
import { FRONT_DESK, fixtureLines, LocalPlatform, type Tenant, until } from "../../../scripts/local-platform.ts";
import { callTurns } from "../../../workers/src/db/schema.ts";
import { OUTBOX_BATCH_MS } from "../../../workers/src/do/call-ledger/backoff.ts";

const NODE_ID = "node-e2e-conns";
const SCRIPT = ["book-appointment", "thanks-goodbye"];

/**
 * What a call needs whatever its length: the media node's prompt-prefix fetch, the outbox's first flush (the record
 * as it rings and connects, call.started), its last (the ended call), the webhook consumer once for call.started and
 * once for call.ended, and the analysis consumer. The voice webhook itself is served from the route cache.
 */
const FIXED_CONNECTIONS = 6;

let platform: LocalPlatform;
let tenant: Tenant;
let number: string;

beforeAll(async () => {
  platform = await LocalPlatform.start({ nodeIds: [NODE_ID] });
  tenant = await platform.signUp("Spokes Bikes");
  ({ number } = await platform.agentOnNumber(tenant.key, FRONT_DESK));
}, 120_000);

afterAll(async () => {
  await platform?.close();
});

test("a call opens a few database connections, not one per checkpoint, and every turn still lands in Postgres", async () => {
  const lines = await fixtureLines(SCRIPT);
  const callSid = newCallSid();
  const callId = await platform.scriptCaller(callSid, lines);
  const countAtStart = platform.edge.dbConnections();
  const startedAt = Date.now();

  const answered = await platform.placeCall(number, callSid);
  const report = await runCall(answered.caller, { script: SCRIPT, greetingTimeoutMs: 10_000 });
  expect(report.errors).toEqual([]);
  expect(await platform.completeCall(number, report)).toBe(200);
  const callMs = Date.now() - startedAt;

  const db = platform.edge.db.db;
  await platform.endedCall(tenant.accountId, callId);
  const turns = await until("every turn", async () => {
    const rows = await db
      .select()
      .from(callTurns)
      .where(and(eq(callTurns.tenantId, tenant.accountId), eq(callTurns.callId, callId)))
      .orderBy(callTurns.turnIndex, callTurns.speaker);
    return rows.length >= 1 + 2 * SCRIPT.length ? rows : undefined;
  });
  expect(turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(lines);
  expect(turns.filter((t) => t.speaker === "agent").every((t) => t.text.length > 0)).toBe(true);

  // The call's tail (webhook deliveries, the analysis) runs after it ended: count once nothing new opened for 3 s.
  let opened = platform.edge.dbConnections() - countAtStart;
  await until(
    "the call's connections to settle",
    async () => {
      await new Promise((r) => setTimeout(r, 3_000));
      const now = platform.edge.dbConnections() - countAtStart;
      const settled = now === opened;
      opened = now;
      return settled ? true : undefined;
    },
    { timeoutMs: 30_000, everyMs: 0 },
  );

  // Mid-call rows share a flush per batch window, so the call's length, not its number of checkpoints, sets the rest.
  const bound = FIXED_CONNECTIONS + Math.ceil(callMs / OUTBOX_BATCH_MS.midCall);
  expect(opened, `${opened} connections for a ${callMs} ms call (bound ${bound})`).toBeLessThanOrEqual(bound);
}, 120_000);
