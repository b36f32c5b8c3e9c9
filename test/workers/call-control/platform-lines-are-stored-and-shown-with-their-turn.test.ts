// Every line the platform itself speaks (a filler while the caller waits, the apology when the model fails, the
// acknowledgement, the drain goodbye) is stored with its turn as the node reported it, and shown with it: in
// Postgres, in GET /v1/calls/{id} and on the console's call page. A checkpoint that reached Postgres first (a playback
// mark) does not cost the turn's own fields either.
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { SpokenLine } from "../../../shared/session-events.ts";
import { callTurns } from "../../../workers/src/db/schema.ts";
import { call } from "../helpers.ts";
import { agentHeard, callerFinal, callRecord, edge, started, turn, withDb } from "./fixtures.ts";

const APOLOGY = "I'm sorry, I'm having trouble answering right now. Could you say that again?";
const FILLER = "Sorry, one moment…";
const BRIDGE = "Sorry, I lost you for a second…";
const PASSWORD = "correct horse battery";

async function owner() {
  const email = `lines-${crypto.randomUUID()}@example.com`;
  const r = await call<{ account: { id: string }; apiKey: { key: string } }>("POST", "/v1/accounts", {
    body: { name: "Lines Co", email, password: PASSWORD },
  });
  expect(r.status).toBe(201);
  const signIn = await call("POST", "/v1/sessions", { body: { email, password: PASSWORD } });
  const cookie = /aybiza_session=([^;]+)/.exec(signIn.headers.get("set-cookie") ?? "")?.[1];
  if (!cookie) throw new Error("no session cookie");
  return { tenantId: r.body.account.id, key: r.body.apiKey.key, cookie: `aybiza_session=${cookie}` };
}

type TurnOut = { turnIndex: number; speaker: string; text: string; lines: SpokenLine[]; tools: { name: string }[] };

describe("the platform's own lines", () => {
  it("are stored with their turn, returned by the calls API and shown on the call's page", async () => {
    const o = await owner();
    const record = callRecord(o.tenantId);
    const session = edge.CALL_LEDGER.getByName(record.callId);
    await session.open({ record, state: "routed", leaseHeld: false });
    await session.ingest(started(record, 0));
    // Turn 1: the recognizer stalled, a filler played, then the answer (with a tool). A playback mark of the
    // answer is checkpointed (and written) before the turn's own event.
    const answer = "We open at nine on Saturday.";
    await session.ingest(callerFinal(record, 1, 1, "When do you open on Saturday?"));
    await session.ingest(agentHeard(record, 1, 2, "We open at nine"));
    await session.flushOutbox();
    const requestAt = Date.now() - 600;
    await session.ingest(
      turn(record, 1, 3, {
        userText: "When do you open on Saturday?",
        assistantText: answer,
        generatedText: answer,
        tools: [{ id: "t1", name: "opening_hours", ok: true, ms: 40 }],
        lines: [{ source: "filler", text: FILLER }],
        waterfall: { speechEndAt: requestAt - 100, sttFinalAt: requestAt - 50, llmRequestAt: requestAt },
      }),
    );
    // Turn 2: every model throttled; the apology is all the caller heard (the node makes it the turn's text).
    await session.ingest(
      turn(record, 2, 4, {
        userText: "Where is my order?",
        assistantText: APOLOGY,
        generatedText: "",
        lines: [{ source: "apology", text: APOLOGY }],
      }),
    );
    // Turn 3: the model's stream broke after its first words; the apology followed them.
    await session.ingest(
      turn(record, 3, 5, {
        userText: "And the one before?",
        assistantText: "Let me check that",
        generatedText: "Let me check that",
        lines: [{ source: "apology", text: APOLOGY }],
      }),
    );
    // Turn 4: the caller went on before anything but a filler was heard; the filler is still a turn they heard.
    await session.ingest(
      turn(record, 4, 6, {
        userText: "Hello?",
        assistantText: "",
        generatedText: "",
        interrupted: true,
        lines: [{ source: "filler", text: FILLER }],
      }),
    );
    // Turn 5: the call went on on another media node after its node was lost; the bridge is the platform's own line.
    await session.ingest(
      turn(record, 5, 7, {
        userText: "",
        assistantText: BRIDGE,
        generatedText: "",
        lines: [{ source: "bridge", text: BRIDGE }],
      }),
    );
    await session.flushOutbox();

    const rows = await withDb((db) =>
      db
        .select()
        .from(callTurns)
        .where(and(eq(callTurns.tenantId, record.tenantId), eq(callTurns.callId, record.callId)))
        .orderBy(callTurns.turnIndex, callTurns.speaker),
    );
    const agentRows = rows.filter((r) => r.speaker === "agent");
    expect(agentRows.map((r) => [r.turnIndex, r.text, r.lines])).toEqual([
      [1, answer, [{ source: "filler", text: FILLER }]],
      [2, APOLOGY, [{ source: "apology", text: APOLOGY }]],
      [3, "Let me check that", [{ source: "apology", text: APOLOGY }]],
      [4, "", [{ source: "filler", text: FILLER }]],
      [5, BRIDGE, [{ source: "bridge", text: BRIDGE }]],
    ]);
    expect(rows.filter((r) => r.speaker === "caller").every((r) => r.lines === null)).toBe(true);
    // The checkpoint row written first was completed by the turn: its tool and model request time are there.
    expect(agentRows[0]?.tools).toEqual([{ id: "t1", name: "opening_hours", ok: true, ms: 40 }]);
    expect(agentRows[0]?.llmRequestAt?.getTime()).toBe(requestAt);

    const api = await call<{ turns: TurnOut[] }>("GET", `/v1/calls/${record.callId}`, { key: o.key });
    expect(api.status).toBe(200);
    const byTurn = (i: number, speaker = "agent") =>
      api.body.turns.find((t) => t.turnIndex === i && t.speaker === speaker);
    expect(byTurn(1)?.lines).toEqual([{ source: "filler", text: FILLER }]);
    expect(byTurn(2)).toMatchObject({ text: APOLOGY, lines: [{ source: "apology", text: APOLOGY }] });
    expect(byTurn(1, "caller")?.lines).toEqual([]);
    expect(byTurn(5)).toMatchObject({ text: BRIDGE, lines: [{ source: "bridge", text: BRIDGE }] });

    const page = await call<string>("GET", `/console/calls/${record.callId}`, { headers: { cookie: o.cookie } });
    expect(page.status).toBe(200);
    const html = String(page.body);
    const item = (i: number) => html.slice(html.indexOf(`data-turn="${i}-agent"`)).split("</li>")[0] ?? "";
    expect(item(1)).toContain(answer);
    expect(item(1)).toMatch(/data-spoken-line="filler"><span class="line-source">Filler<\/span> Sorry, one moment…/);
    // The apology that was the whole turn is shown once, as the apology it was.
    expect(item(2).split("trouble answering").length - 1).toBe(1);
    expect(item(2)).toContain('data-spoken-line="apology"');
    expect(item(3)).toContain("Let me check that");
    expect(item(3)).toContain('data-spoken-line="apology"');
    expect(item(5)).toMatch(/data-spoken-line="bridge"><span class="line-source">Bridge<\/span> Sorry, I lost you/);
    expect(item(5).split("lost you").length - 1).toBe(1);
  });
});
