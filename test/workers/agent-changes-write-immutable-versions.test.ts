import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditActions, call, createAgent, signUp, withDb } from "./helpers.ts";

type Agent = {
  id: string;
  name: string;
  version: number;
  versionId: string;
  publishedVersion: number | null;
  publishedVersionId: string | null;
  config: Record<string, unknown> & { systemPrompt: string; voice: string; tools: unknown[] };
};

describe("agents", () => {
  it("creates version 1 with the shared defaults filled in, unpublished unless asked", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    expect(a.version).toBe(1);
    expect(a.publishedVersion).toBeNull();
    expect(a.config.voice).toBe("aura-2-thalia-en");
    const published = (await createAgent(t, { publish: true })) as unknown as Agent;
    expect(published.publishedVersion).toBe(1);
    expect(published.publishedVersionId).toBe(published.versionId);
  });

  it("writes a new version on every change, keeps untouched fields, and leaves the old version as it was", async () => {
    const t = await signUp();
    const a = (await createAgent(t, {
      publish: true,
      config: { systemPrompt: "v1 prompt", voice: "aura-2-odysseus-en" },
    })) as unknown as Agent;
    const patched = await call<Agent>("PATCH", `/v1/agents/${a.id}`, {
      key: t.key,
      body: { config: { systemPrompt: "v2 prompt" } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    expect(patched.body.config.systemPrompt).toBe("v2 prompt");
    expect(patched.body.config.voice).toBe("aura-2-odysseus-en");
    // Editing does not change what live calls use until publishing.
    expect(patched.body.publishedVersion).toBe(1);

    const v1 = await call<{ config: { systemPrompt: string }; published: boolean }>(
      "GET",
      `/v1/agents/${a.id}/versions/1`,
      { key: t.key },
    );
    expect(v1.body.config.systemPrompt).toBe("v1 prompt");
    expect(v1.body.published).toBe(true);

    const versions = await call<{ data: Array<{ version: number }> }>("GET", `/v1/agents/${a.id}/versions`, {
      key: t.key,
    });
    expect(versions.body.data.map((v) => v.version)).toEqual([2, 1]);

    const renamed = await call<Agent>("PATCH", `/v1/agents/${a.id}`, { key: t.key, body: { name: "Night desk" } });
    expect(renamed.body).toMatchObject({ name: "Night desk", version: 3 });
  });

  it("publishes a version, and can roll back to an older one", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    await call("PATCH", `/v1/agents/${a.id}`, {
      key: t.key,
      body: { config: { systemPrompt: "better" }, publish: true },
    });
    let got = await call<Agent>("GET", `/v1/agents/${a.id}`, { key: t.key });
    expect(got.body.publishedVersion).toBe(2);
    const back = await call<Agent>("POST", `/v1/agents/${a.id}/publish`, { key: t.key, body: { version: 1 } });
    expect(back.status).toBe(200);
    got = await call<Agent>("GET", `/v1/agents/${a.id}`, { key: t.key });
    expect(got.body.publishedVersion).toBe(1);
    expect((await call("POST", `/v1/agents/${a.id}/publish`, { key: t.key, body: { version: 9 } })).status).toBe(404);
    expect(await auditActions(t.accountId)).toEqual(
      expect.arrayContaining(["agent.create", "agent.update", "agent.publish"]),
    );
  });

  it("refuses to edit a stored version in the database itself", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    await expect(
      withDb((db) => db.execute(sql`update agent_versions set system_prompt = 'tampered' where id = ${a.versionId}`)),
    ).rejects.toThrow();
  });

  it("rejects a change that makes the configuration invalid, pointing at the field", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    const r = await call<{ errors: Array<{ pointer: string }> }>("PATCH", `/v1/agents/${a.id}`, {
      key: t.key,
      body: { config: { thinkingBudgetTokens: 5 } },
    });
    expect(r.status).toBe(400);
    expect(r.body.errors[0]?.pointer).toBe("/config/thinkingBudgetTokens");
    const got = await call<Agent>("GET", `/v1/agents/${a.id}`, { key: t.key });
    expect(got.body.version).toBe(1);
  });

  it("deletes an agent (404 afterwards) but not while a number still answers with it", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    const num = await call<{ id: string }>("POST", "/v1/phone-numbers", {
      key: t.key,
      body: { e164: `+1415${Math.floor(1e6 + Math.random() * 8e6)}`, provider: "twilio", agentId: a.id },
    });
    expect((await call("DELETE", `/v1/agents/${a.id}`, { key: t.key })).status).toBe(409);
    await call("PATCH", `/v1/phone-numbers/${num.body.id}`, { key: t.key, body: { agentId: null } });
    expect((await call("DELETE", `/v1/agents/${a.id}`, { key: t.key })).status).toBe(204);
    expect((await call("GET", `/v1/agents/${a.id}`, { key: t.key })).status).toBe(404);
    const list = await call<{ data: Agent[] }>("GET", "/v1/agents", { key: t.key });
    expect(list.body.data.map((x) => x.id)).not.toContain(a.id);
  });

  it("pages through agents newest first without repeats", async () => {
    const t = await signUp();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(((await createAgent(t, { name: `a${i}` })) as unknown as Agent).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const page = await call<{ data: Agent[]; nextCursor: string | null }>("GET", `/v1/agents${q}`, { key: t.key });
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((a) => a.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
  });
});
