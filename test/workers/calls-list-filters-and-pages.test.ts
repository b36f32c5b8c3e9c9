import { describe, expect, it } from "vitest";
import { call, seedCall, signUp } from "./helpers.ts";

type Call = { id: string; status: string; direction: string; from: string; to: string; createdAt: string };
type Page = { data: Call[]; nextCursor: string | null };

describe("calls", () => {
  it("filters by status, direction, numbers and creation time", async () => {
    const t = await signUp();
    const base = Date.parse("2026-03-01T10:00:00.000Z");
    const early = await seedCall(t.accountId, { createdAt: new Date(base), status: "completed" });
    const failed = await seedCall(t.accountId, { createdAt: new Date(base + 60_000), status: "failed" });
    const outbound = await seedCall(t.accountId, {
      createdAt: new Date(base + 120_000),
      direction: "outbound",
      fromNumber: "+14155550199",
      toNumber: "+442071838750",
    });
    const ids = async (q: string) =>
      (await call<Page>("GET", `/v1/calls${q}`, { key: t.key })).body.data.map((c) => c.id);

    expect(await ids("")).toEqual([outbound, failed, early]);
    expect(await ids("?status=failed")).toEqual([failed]);
    expect(await ids("?direction=outbound")).toEqual([outbound]);
    expect(await ids("?to=%2B442071838750")).toEqual([outbound]);
    expect(await ids("?from=%2B14155550100")).toEqual([failed, early]);
    expect(await ids(`?createdAfter=${new Date(base + 60_000).toISOString()}`)).toEqual([outbound, failed]);
    expect(await ids(`?createdBefore=${new Date(base + 60_000).toISOString()}`)).toEqual([early]);
  });

  it("pages with a cursor, including rows created in the same millisecond", async () => {
    const t = await signUp();
    const at = new Date("2026-03-02T00:00:00.000Z");
    const made = new Set<string>();
    for (let i = 0; i < 5; i++) made.add(await seedCall(t.accountId, { createdAt: at }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { body: Page } = await call<Page>("GET", `/v1/calls?limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
        key: t.key,
      });
      seen.push(...r.body.data.map((c) => c.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(made);
  });

  it("returns one call with its turns in order, and the agent turns' latency", async () => {
    const t = await signUp();
    const spoke = new Date("2026-03-03T09:00:00.000Z");
    const id = await seedCall(t.accountId, { answeredAt: spoke, endedAt: new Date(spoke.getTime() + 95_000) }, [
      { speaker: "agent", text: "Hello, Acme Dental.", turnIndex: 0 },
      { speaker: "caller", text: "I need an appointment.", turnIndex: 1 },
      {
        speaker: "agent",
        text: "Sure, when",
        turnIndex: 1,
        interrupted: true,
        callerSpeechEndedAt: spoke,
        firstAudioOutAt: new Date(spoke.getTime() + 640),
        platformOverheadMs: 35,
        cacheReadTokens: 1200,
      },
    ]);
    const r = await call<Call & { durationMs: number; turns: Array<Record<string, unknown>> }>(
      "GET",
      `/v1/calls/${id}`,
      { key: t.key },
    );
    expect(r.status).toBe(200);
    expect(r.body.durationMs).toBe(95_000);
    expect(r.body.turns.map((x) => x.text)).toEqual(["Hello, Acme Dental.", "I need an appointment.", "Sure, when"]);
    expect(r.body.turns[2]).toMatchObject({
      interrupted: true,
      latency: { firstAudioMs: 640, platformOverheadMs: 35 },
      usage: { cacheReadTokens: 1200 },
    });
    expect(r.body.turns[1]?.latency).toBeNull();
  });

  it("rejects filters it does not know instead of ignoring them", async () => {
    const t = await signUp();
    const r = await call<{ errors: Array<{ location: string; pointer: string }> }>("GET", "/v1/calls?stauts=failed", {
      key: t.key,
    });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([expect.objectContaining({ location: "query", pointer: "/stauts" })]);
    expect((await call("GET", "/v1/calls?cursor=not-a-cursor", { key: t.key })).status).toBe(400);
  });
});
