// Built-ins check the model's arguments against the tool's configuration, ask the edge to act (a recording
// stand-in for the edge here: the real one is tested in workerd), and turn its answer into the model's result.
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../../../../media-nodes/src/providers/types.ts";
import { BUILTIN_TOOL_SPECS } from "../../../../media-nodes/src/tools/builtins.ts";
import type { EdgeActionOutcome, EdgeActions } from "../../../../media-nodes/src/tools/edge-actions.ts";
import { extractEntities } from "../../../../media-nodes/src/tools/entities.ts";
import { ToolRunner } from "../../../../media-nodes/src/tools/runner.ts";
import { fixedToolSigningKeys } from "../../../../media-nodes/src/tools/signing-keys.ts";
import type { ToolDefinition } from "../../../../shared/agent-config.ts";
import type { CallActionRequest } from "../../../../shared/call-actions.ts";

const BILLING_PREFIX = "b".repeat(64);

const CALLER = "+447700900123";
const DESK = "+14155550100";
const BILLING = "+14155550111";

const builtins: ToolDefinition[] = (Object.keys(BUILTIN_TOOL_SPECS) as (keyof typeof BUILTIN_TOOL_SPECS)[]).map(
  (name) => ({
    name,
    builtin: name,
    ...BUILTIN_TOOL_SPECS[name],
    ...(name === "transfer_call" ? { allow: { numbers: [DESK, BILLING] } } : {}),
    ...(name === "handoff_to_agent" ? { allow: { agents: ["billing"] } } : {}),
  }),
);

/** Answers like the edge does when everything is allowed and the carrier accepts, unless told to refuse. */
class RecordingEdge implements EdgeActions {
  readonly requests: CallActionRequest[] = [];
  refuse: Extract<EdgeActionOutcome, { ok: false }> | undefined;
  async perform(_callId: string, request: CallActionRequest): Promise<EdgeActionOutcome> {
    this.requests.push(request);
    if (this.refuse) return this.refuse;
    switch (request.type) {
      case "transfer_call":
        return { ok: true, result: { type: "transfer_call", status: "scheduled", to: request.to ?? DESK } };
      case "send_sms":
        return { ok: true, result: { type: "send_sms", status: "sent", to: request.to ?? CALLER, messageSid: "SM1" } };
      case "handoff_to_agent":
        return {
          ok: true,
          result: {
            type: "handoff_to_agent",
            status: "handed-off",
            agentId: request.agentId,
            agentName: "Billing",
            agentVersion: 3,
            prefixHash: BILLING_PREFIX,
          },
        };
      case "start_verification":
        return {
          ok: true,
          result: {
            type: "start_verification",
            status: "code_sent",
            sentTo: "+1••••••0123",
            expiresInMs: 300_000,
            attemptsLeft: 5,
          },
        };
      case "check_verification":
        return {
          ok: true,
          result: { type: "check_verification", status: "incorrect", accountId: "AYB-X", attemptsLeft: 3 },
        };
    }
  }
}

function fetchMustNotBeCalled(): Promise<Response> {
  throw new Error("built-ins never call webhooks");
}

function setup() {
  const edge = new RecordingEdge();
  const runner = new ToolRunner({
    tools: builtins,
    signing: fixedToolSigningKeys("s"),
    edge,
    fetch: fetchMustNotBeCalled as typeof fetch,
  });
  const run1 = async (name: string, input: unknown, history: ChatMessage[] = []) => {
    const { outcomes, actions } = await runner.run([{ id: "tu", name, input }], {
      callId: "c",
      tenantId: "t",
      history,
    });
    return { outcome: outcomes[0]!, actions };
  };
  return { edge, runner, run1 };
}

const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const assistant = (text: string): ChatMessage => ({ role: "assistant", content: [{ type: "text", text }] });

describe("built-in tools", () => {
  it("end_call asks the session to hang up after the goodbye", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("end_call", { reason: "caller is done" });
    expect(outcome.ok).toBe(true);
    expect(actions).toEqual([{ type: "end_call", reason: "caller is done" }]);
    expect(edge.requests).toEqual([]);
  });

  it("transfer_call accepts an allowed number written the way people write it, and sends E.164", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("transfer_call", { to: "+1 (415) 555-0111" });
    expect(outcome.ok).toBe(true);
    expect(edge.requests).toEqual([{ type: "transfer_call", to: BILLING }]);
    expect(actions).toEqual([{ type: "transfer_call", to: BILLING }]);
  });

  it("transfer_call without a number goes to the first configured one", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("transfer_call", { reason: "wants a person" });
    expect(outcome.ok).toBe(true);
    expect(edge.requests).toEqual([{ type: "transfer_call", to: DESK, reason: "wants a person" }]);
    expect(actions).toEqual([{ type: "transfer_call", to: DESK, reason: "wants a person" }]);
  });

  it.each(["4155550100", "+0123", "call my manager", "+1 415 555 0100 ext 5"])(
    "transfer_call refuses %j without asking the edge",
    async (to) => {
      const { run1, edge } = setup();
      const { outcome, actions } = await run1("transfer_call", { to });
      expect(outcome.ok).toBe(false);
      expect(outcome.result).toMatchObject({ error: "invalid_arguments" });
      expect(outcome.spokenError).toMatch(/number/);
      expect(actions).toEqual([]);
      expect(edge.requests).toEqual([]);
    },
  );

  it("transfer_call never dials a number the model made up", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("transfer_call", { to: "+19005550199" });
    expect(outcome.ok).toBe(false);
    expect(outcome.result).toMatchObject({ error: "not_allowed" });
    expect(actions).toEqual([]);
    expect(edge.requests).toEqual([]);
  });

  it("a transfer the edge refuses is reported as not happening, and no action is published", async () => {
    const { run1, edge } = setup();
    edge.refuse = { ok: false, problem: "not-supported", status: 422, detail: "This call cannot be transferred." };
    const { outcome, actions } = await run1("transfer_call", {});
    expect(outcome.ok).toBe(false);
    expect(outcome.result).toMatchObject({ error: "not_supported", message: "This call cannot be transferred." });
    expect(outcome.spokenError).toMatch(/couldn't transfer/);
    expect(actions).toEqual([]);
  });

  it("send_sms goes to the caller by default, and the result says it was sent", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("send_sms", { body: "  Your receipt: #4821 " });
    expect(edge.requests).toEqual([{ type: "send_sms", body: "Your receipt: #4821" }]);
    expect(outcome).toMatchObject({ ok: true, result: { status: "sent", to: CALLER } });
    expect(actions).toEqual([{ type: "send_sms", to: CALLER, body: "Your receipt: #4821" }]);
  });

  it("send_sms checks the number and the length of the text before asking the edge", async () => {
    const { run1, edge } = setup();
    expect((await run1("send_sms", { body: "x".repeat(1_601) })).outcome.ok).toBe(false);
    expect((await run1("send_sms", { body: "   " })).outcome.ok).toBe(false);
    expect((await run1("send_sms", { to: "07700 900123", body: "hi" })).outcome.ok).toBe(false);
    expect(edge.requests).toEqual([]);
  });

  it("a text the carrier refused is an honest failure", async () => {
    const { run1, edge } = setup();
    edge.refuse = { ok: false, problem: "carrier-error", status: 502, detail: "Twilio did not send the text." };
    const { outcome, actions } = await run1("send_sms", { body: "hi" });
    expect(outcome.ok).toBe(false);
    expect(outcome.result).toMatchObject({ error: "carrier_error" });
    expect(JSON.stringify(outcome.result)).toContain("did not happen");
    expect(actions).toEqual([]);
  });

  it("without an edge, actions that need one refuse instead of pretending", async () => {
    const runner = new ToolRunner({ tools: builtins, signing: fixedToolSigningKeys("s") });
    const { outcomes, actions } = await runner.run(
      [
        { id: "1", name: "send_sms", input: { body: "hi" } },
        { id: "2", name: "transfer_call", input: {} },
        { id: "3", name: "start_verification", input: { accountId: "AYB-K3M2" } },
      ],
      { callId: "c", tenantId: "t", history: [] },
    );
    expect(outcomes.map((o) => [o.ok, (o.result as { error?: string }).error])).toEqual([
      [false, "not_supported"],
      [false, "not_supported"],
      [false, "not_supported"],
    ]);
    expect(actions).toEqual([]);
  });

  it("handoff_to_agent packs what the next agent needs: history, facts the caller gave, intent and reason", async () => {
    const { run1, edge } = setup();
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
    expect(outcome.result).toMatchObject({ agentName: "Billing", status: "handed_off" });
    expect(actions).toHaveLength(1);
    const action = actions[0]!;
    if (action.type !== "handoff_to_agent") throw new Error("expected a handoff");
    expect(edge.requests[0]).toEqual({ type: "handoff_to_agent", agentId: "billing", context: action.context });
    // The session continues the call with the version the edge handed it to.
    expect(action).toMatchObject({ agentVersion: 3, prefixHash: BILLING_PREFIX });
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

  it("handoff_to_agent refuses an agent the tool does not list", async () => {
    const { run1, edge } = setup();
    const { outcome, actions } = await run1("handoff_to_agent", { agentId: "sales" });
    expect(outcome.result).toMatchObject({ error: "not_allowed" });
    expect(actions).toEqual([]);
    expect(edge.requests).toEqual([]);
  });

  it("verification tools relay the outcome and never claim a wrong code verified", async () => {
    const { run1, edge } = setup();
    const started = await run1("start_verification", { accountId: "A Y B dash K three M two" });
    expect(started.outcome.result).toMatchObject({ status: "code_sent", sentTo: "+1••••••0123", expiresInMinutes: 5 });
    const checked = await run1("check_verification", { code: "4 8 2 9 1 3" });
    expect(checked.outcome.result).toMatchObject({ verified: false, status: "incorrect", attemptsLeft: 3 });
    expect(edge.requests).toEqual([
      { type: "start_verification", accountId: "A Y B dash K three M two" },
      { type: "check_verification", code: "4 8 2 9 1 3" },
    ]);
  });

  it("a turn can mix built-ins: every action comes back, in call order", async () => {
    const { runner } = setup();
    const { outcomes, actions } = await runner.run(
      [
        { id: "1", name: "send_sms", input: { body: "Your receipt" } },
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
