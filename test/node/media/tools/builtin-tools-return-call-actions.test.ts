import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../../../../media-nodes/src/providers/types.ts";
import { BUILTIN_TOOL_SPECS } from "../../../../media-nodes/src/tools/builtins.ts";
import { extractEntities } from "../../../../media-nodes/src/tools/entities.ts";
import { ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import type { ToolDefinition } from "../../../../shared/agent-config.ts";

const builtins: ToolDefinition[] = (Object.keys(BUILTIN_TOOL_SPECS) as (keyof typeof BUILTIN_TOOL_SPECS)[]).map(
  (name) => ({
    name,
    builtin: name,
    ...BUILTIN_TOOL_SPECS[name],
  }),
);

function fetchMustNotBeCalled(): Promise<Response> {
  throw new Error("built-ins never call out");
}

const runner = new ToolRunner({ tools: builtins, webhookSecret: "s", fetch: fetchMustNotBeCalled as typeof fetch });

const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const assistant = (text: string): ChatMessage => ({ role: "assistant", content: [{ type: "text", text }] });

async function run1(name: string, input: unknown, history: ChatMessage[] = []) {
  const { outcomes, actions } = await runner.run([{ id: "tu", name, input }], { callId: "c", tenantId: "t", history });
  return { outcome: outcomes[0]!, actions };
}

describe("built-in tools", () => {
  it("end_call asks the session to hang up after the goodbye", async () => {
    const { outcome, actions } = await run1("end_call", { reason: "caller is done" });
    expect(outcome.ok).toBe(true);
    expect(actions).toEqual([{ type: "end_call", reason: "caller is done" }]);
  });

  it("transfer_call accepts a number written the way people write it, and sends E.164", async () => {
    const { outcome, actions } = await run1("transfer_call", { to: "+1 (415) 555-0100" });
    expect(outcome.ok).toBe(true);
    expect(actions).toEqual([{ type: "transfer_call", to: "+14155550100" }]);
  });

  it.each(["4155550100", "+0123", "call my manager", "+1 415 555 0100 ext 5"])(
    "transfer_call refuses %j",
    async (to) => {
      const { outcome, actions } = await run1("transfer_call", { to });
      expect(outcome.ok).toBe(false);
      expect(outcome.result).toMatchObject({ error: "invalid_arguments" });
      expect(outcome.spokenError).toMatch(/number/);
      expect(actions).toEqual([]);
    },
  );

  it("send_sms checks the number and the length of the text", async () => {
    expect((await run1("send_sms", { to: "+447700900123", body: "Your code is 1234" })).actions).toEqual([
      { type: "send_sms", to: "+447700900123", body: "Your code is 1234" },
    ]);
    const tooLong = await run1("send_sms", { to: "+447700900123", body: "x".repeat(1_601) });
    expect(tooLong.outcome.ok).toBe(false);
    expect(tooLong.actions).toEqual([]);
    const empty = await run1("send_sms", { to: "+447700900123", body: "   " });
    expect(empty.outcome.ok).toBe(false);
    const badNumber = await run1("send_sms", { to: "07700 900123", body: "hi" });
    expect(badNumber.outcome.ok).toBe(false);
  });

  it("handoff_to_agent packs what the next agent needs: history, facts the caller gave, intent and reason", async () => {
    const history = [
      assistant("Thanks for calling Acme, how can I help?"),
      user("Hi, my name is Dana Whitfield. I'm calling about order number 48213."),
      assistant("Let me look that up."),
      user("It was supposed to arrive on Friday. You can reach me at +1 415 555 0100 or dana@example.com."),
    ];
    const { outcome, actions } = await run1(
      "handoff_to_agent",
      { agentId: "billing", reason: "refund needed" },
      history,
    );
    expect(outcome.ok).toBe(true);
    expect(actions).toHaveLength(1);
    const action = actions[0]!;
    if (action.type !== "handoff_to_agent") throw new Error("expected a handoff");
    expect(action.agentId).toBe("billing");
    expect(action.context.reason).toBe("refund needed");
    expect(action.context.recentHistory).toEqual(history);
    expect(action.context.intent).toContain("Friday");
    expect(action.context.entities).toMatchObject({
      name: "Dana Whitfield",
      orderNumber: "48213",
      date: "Friday",
      phone: "+14155550100",
      email: "dana@example.com",
    });
  });

  it("a turn can mix built-ins: every action comes back, in call order", async () => {
    const { outcomes, actions } = await runner.run(
      [
        { id: "1", name: "send_sms", input: { to: "+14155550100", body: "Your receipt" } },
        { id: "2", name: "end_call", input: {} },
      ],
      { callId: "c", tenantId: "t", history: [] },
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(actions.map((a) => a.type)).toEqual(["send_sms", "end_call"]);
  });
});

describe("extractEntities", () => {
  it.each<[string, Record<string, string>]>([
    ["My order number is A-55821.", { orderNumber: "A-55821" }],
    ["It's ticket #99812.", { orderNumber: "99812" }],
    ["Can we do March 3rd at 2:30 pm?", { date: "March 3rd", time: "2:30 pm" }],
    ["This is Priya.", { name: "Priya" }],
    ["next Tuesday works", { date: "next Tuesday" }],
  ])("%j", (text, expected) => {
    expect(extractEntities([user(text)])).toMatchObject(expected);
  });

  it("ignores what the agent said and keeps the caller's latest correction", () => {
    const entities = extractEntities([
      user("order 11111"),
      assistant("Is your order 22222?"),
      user("No, the order number is 33333."),
    ]);
    expect(entities.orderNumber).toBe("33333");
  });
});
