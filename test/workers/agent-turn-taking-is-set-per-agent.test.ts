// An agent's recogniser and turn-taking thresholds: Flux and the shared defaults unless set, changed by PATCH like any
// field (a new version), and refused with a problem when out of range or contradictory.
import { describe, expect, it } from "vitest";
import { call, createAgent, signUp } from "./helpers.ts";

type TurnConfig = {
  recognizer: string;
  turnTaking: {
    eagerEotThreshold: number | null;
    eotThreshold: number;
    eotTimeoutMs: number;
    completenessHoldMs: number;
  };
};
type Agent = { id: string; version: number; config: TurnConfig };

describe("agent turn-taking settings", () => {
  it("default to Flux with eager 0.5, end 0.7, timeout 5 s and a 1.5 s completeness hold", async () => {
    const t = await signUp();
    const a = (await createAgent(t)) as unknown as Agent;
    expect(a.config.recognizer).toBe("flux");
    expect(a.config.turnTaking).toEqual({
      eagerEotThreshold: 0.5,
      eotThreshold: 0.7,
      eotTimeoutMs: 5_000,
      completenessHoldMs: 1_500,
    });
  });

  it("are set per agent and changed by PATCH into a new version", async () => {
    const t = await signUp();
    const a = (await createAgent(t, {
      config: {
        systemPrompt: "Bonjour",
        language: "fr",
        recognizer: "nova-3",
        turnTaking: { completenessHoldMs: 2_000 },
      },
    })) as unknown as Agent;
    expect(a.config.recognizer).toBe("nova-3");
    expect(a.config.turnTaking.completenessHoldMs).toBe(2_000);
    expect(a.config.turnTaking.eotThreshold).toBe(0.7);

    const patched = await call<Agent>("PATCH", `/v1/agents/${a.id}`, {
      key: t.key,
      body: { config: { recognizer: "flux", turnTaking: { eagerEotThreshold: null, eotThreshold: 0.85 } } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.version).toBe(2);
    expect(patched.body.config.recognizer).toBe("flux");
    expect(patched.body.config.turnTaking).toMatchObject({ eagerEotThreshold: null, eotThreshold: 0.85 });
    const v1 = await call<{ config: TurnConfig }>("GET", `/v1/agents/${a.id}/versions/1`, { key: t.key });
    expect(v1.body.config.recognizer).toBe("nova-3");
  });

  it("refuses thresholds out of range, an eager threshold above the end one, and unknown recognisers", async () => {
    const t = await signUp();
    for (const config of [
      { systemPrompt: "x", turnTaking: { eagerEotThreshold: 0.8, eotThreshold: 0.6 } },
      { systemPrompt: "x", turnTaking: { eotThreshold: 0.95 } },
      { systemPrompt: "x", turnTaking: { eotTimeoutMs: 100 } },
      { systemPrompt: "x", turnTaking: { completenessHoldMs: -1 } },
      { systemPrompt: "x", turnTaking: { holdMs: 500 } },
      { systemPrompt: "x", recognizer: "whisper" },
    ]) {
      const res = await call<{ status: number; title?: string }>("POST", "/v1/agents", {
        key: t.key,
        body: { name: "Bad", config },
      });
      expect(res.status, JSON.stringify(config)).toBe(400);
    }
  });
});
