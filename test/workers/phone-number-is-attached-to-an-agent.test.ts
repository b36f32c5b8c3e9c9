import { describe, expect, it } from "vitest";
import { auditActions, call, createAgent, signUp } from "./helpers.ts";

const randomNumber = () => `+1628${Math.floor(1e6 + Math.random() * 8.9e6)}`;

describe("phone numbers", () => {
  it("adds a number, attaches and detaches an agent, and audits each change", async () => {
    const t = await signUp();
    const agent = await createAgent(t);
    const e164 = randomNumber();
    const made = await call<{ id: string; agentId: string | null }>("POST", "/v1/phone-numbers", {
      key: t.key,
      body: { e164, provider: "twilio" },
    });
    expect(made.status).toBe(201);
    expect(made.body.agentId).toBeNull();

    const attached = await call<{ agentId: string | null }>("PATCH", `/v1/phone-numbers/${made.body.id}`, {
      key: t.key,
      body: { agentId: agent.id },
    });
    expect(attached.body.agentId).toBe(agent.id);
    const byAgent = await call<{ data: Array<{ e164: string }> }>("GET", `/v1/phone-numbers?agentId=${agent.id}`, {
      key: t.key,
    });
    expect(byAgent.body.data.map((n) => n.e164)).toEqual([e164]);

    const detached = await call<{ agentId: string | null }>("PATCH", `/v1/phone-numbers/${made.body.id}`, {
      key: t.key,
      body: { agentId: null },
    });
    expect(detached.body.agentId).toBeNull();
    expect(await auditActions(t.accountId)).toEqual(
      expect.arrayContaining(["phone_number.create", "phone_number.attach", "phone_number.detach"]),
    );
  });

  it("gives a number to one account only, and frees it when removed", async () => {
    const a = await signUp();
    const b = await signUp();
    const e164 = randomNumber();
    const first = await call<{ id: string }>("POST", "/v1/phone-numbers", {
      key: a.key,
      body: { e164, provider: "telnyx" },
    });
    expect(first.status).toBe(201);
    const taken = await call("POST", "/v1/phone-numbers", { key: b.key, body: { e164, provider: "twilio" } });
    expect(taken.status).toBe(409);
    expect((await call("DELETE", `/v1/phone-numbers/${first.body.id}`, { key: a.key })).status).toBe(204);
    const retry = await call("POST", "/v1/phone-numbers", { key: b.key, body: { e164, provider: "twilio" } });
    expect(retry.status).toBe(201);
  });

  it("refuses an agent that does not exist", async () => {
    const t = await signUp();
    const r = await call("POST", "/v1/phone-numbers", {
      key: t.key,
      body: { e164: randomNumber(), provider: "twilio", agentId: "agt_22222222222222222222" },
    });
    expect(r.status).toBe(404);
  });
});
