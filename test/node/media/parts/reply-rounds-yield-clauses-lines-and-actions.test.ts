// A reply's rounds, constructed directly: a scripted model, a scripted tool runner, the history. No pacer, no
// socket: the generator's steps are what the caller would hear, in order.
import { expect, test } from "vitest";
import { History } from "../../../../media-nodes/src/pipeline/history.ts";
import { Reply, type ReplyEvent } from "../../../../media-nodes/src/pipeline/reply.ts";
import type { ReplyStep, RoundsContext, ToolRunnerPort } from "../../../../media-nodes/src/pipeline/reply-rounds.ts";
import { FakeLlm, type FakeLlmTurn } from "../../../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import { LlmError } from "../../../../media-nodes/src/providers/types.ts";
import { silentLogger } from "../../../../media-nodes/src/server/logger.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";

const APOLOGY = "Sorry, I'm having trouble.";

async function run(
  script: FakeLlmTurn[],
  opts: { userText?: string; tools?: ToolRunnerPort; agent?: Parameters<typeof testAgent>[0] } = {},
) {
  const agent = testAgent(opts.agent);
  const prefix = await compilePromptPrefix(agent);
  const history = new History();
  const reply = new Reply(1, opts.userText ?? "Hello?");
  history.beginReply(reply, reply.userText);
  const events: ReplyEvent[] = [];
  const states: string[] = [];
  reply.on((e) => events.push(e));
  const toolRunner: ToolRunnerPort = opts.tools ?? {
    run: async () => ({ outcomes: [], actions: [] }),
  };
  const ctx: RoundsContext = {
    callId: "call_1",
    tenantId: "ten_test",
    llm: llmWithFallback(new FakeLlm(script), { retries: 0 }),
    history,
    agent: () => ({ agent, prefix, toolRunner }),
    handOff: async () => {},
    apology: APOLOGY,
    log: silentLogger,
  };
  const steps: ReplyStep[] = [];
  for await (const step of reply.rounds(ctx)) {
    steps.push(step);
    states.push(reply.state);
  }
  return { reply, steps, events, history, states };
}

test("the model's text becomes clauses, a short opener flushed at once, and lands in the history", async () => {
  const { steps, history, reply } = await run([FakeLlm.say("Sure, we open at nine. See you then!")]);
  // "Sure," goes to TTS on its own: it is what the caller waits for. Later commas need a clause's worth of words.
  expect(steps.filter((s) => s.type === "clause").map((s) => s.type === "clause" && s.text.trim())).toEqual([
    "Sure,",
    "we open at nine.",
    "See you then!",
  ]);
  expect(steps[0]).toMatchObject({ type: "clause", flush: true, round: 0 });
  expect(steps[1]).toMatchObject({ flush: false });
  expect(reply.times.firstClauseAt! - reply.times.llmFirstTokenAt!).toBeGreaterThanOrEqual(0);
  expect(history.messages.at(-1)).toEqual({
    role: "assistant",
    content: [{ type: "text", text: "Sure, we open at nine. See you then!" }],
  });
  expect(reply.times.llmRequestAt).toBeDefined();
  expect(reply.times.firstClauseAt).toBeDefined();
});

test("a tool round: acknowledgement while the tool runs, state 'tools', its result in the history, then the answer", async () => {
  const tools: ToolRunnerPort = {
    run: async (calls) => ({
      outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { status: "shipped" }, ms: 12 })),
      actions: [{ type: "end_call", reason: "done" }],
    }),
  };
  let stateDuringTool = "";
  const wrapped: ToolRunnerPort = {
    run: async (calls, ctx) => {
      stateDuringTool = "tools";
      return tools.run(calls, ctx);
    },
  };
  const { steps, events, history } = await run(
    [[{ type: "tool-use", id: "t1", name: "lookup_order", input: { id: "42" } }], FakeLlm.say("It has shipped.")],
    { tools: wrapped },
  );
  expect(stateDuringTool).toBe("tools");
  expect(steps.map((s) => s.type)).toEqual(["line", "action", "clause"]);
  expect(steps[0]).toMatchObject({ type: "line", source: "acknowledgement" });
  expect(steps[1]).toEqual({ type: "action", action: { type: "end_call", reason: "done" } });
  expect(steps[2]).toMatchObject({ type: "clause", round: 1, flush: true });
  expect(events.filter((e) => e.type === "tool")).toEqual([
    { type: "tool", record: { id: "t1", name: "lookup_order", ok: true, ms: 12 } },
  ]);
  expect(history.messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
  expect(history.messages[2]!.content[0]).toMatchObject({ type: "tool-result", toolUseId: "t1" });
});

test("a model that fails becomes the apology line, and nothing is thrown", async () => {
  const { steps } = await run([
    () => {
      throw new LlmError("unavailable", "ServiceUnavailable");
    },
  ]);
  expect(steps).toEqual([{ type: "line", source: "apology", text: APOLOGY }]);
});

test("a stream that breaks mid-reply keeps the words already spoken, in the reply and the history, then apologizes", async () => {
  const { steps, reply, history } = await run([
    async function* () {
      yield { type: "text", text: "Your order shipped on Monday. It should " };
      throw new LlmError("unavailable", "InternalServerException mid-stream");
    },
  ]);
  expect(steps.map((s) => (s.type === "clause" ? s.text.trim() : s.type === "line" ? s.source : s.type))).toEqual([
    "Your order shipped on Monday.",
    "apology",
  ]);
  // What the caller heard is what is stored and what the model is told it said; the words it never sent are not.
  expect(reply.generated).toEqual(["Your order shipped on Monday."]);
  expect(history.messages.at(-1)).toEqual({
    role: "assistant",
    content: [{ type: "text", text: "Your order shipped on Monday." }],
  });
});

test("when a tool failed and then the model fails, the tool's own spoken error is what the caller hears", async () => {
  const tools: ToolRunnerPort = {
    run: async (calls) => ({
      outcomes: calls.map((c) => ({
        id: c.id,
        name: c.name,
        ok: false,
        result: { error: "timeout" },
        spokenError: "Sorry, that's taking longer than it should.",
        ms: 3000,
      })),
      actions: [],
    }),
  };
  const { steps } = await run(
    [
      [{ type: "tool-use", id: "t1", name: "lookup_order", input: {} }],
      () => {
        throw new LlmError("throttled", "ThrottlingException");
      },
    ],
    { tools },
  );
  expect(steps.at(-1)).toEqual({
    type: "line",
    source: "apology",
    text: "Sorry, that's taking longer than it should.",
  });
});

test("a model that keeps asking for tools is stopped after four rounds with the apology", async () => {
  const toolTurn: FakeLlmTurn = [{ type: "tool-use", id: "t", name: "lookup_order", input: {} }];
  const tools: ToolRunnerPort = {
    run: async (calls) => ({
      outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: {}, ms: 1 })),
      actions: [],
    }),
  };
  const { steps } = await run([toolTurn, toolTurn, toolTurn, toolTurn], { tools });
  expect(steps.at(-1)).toEqual({ type: "line", source: "apology", text: APOLOGY });
});

test("a hard turn thinks: the acknowledgement comes first, and the reasoning is never a clause", async () => {
  const { steps, reply } = await run(
    [[{ type: "thinking", text: "Let me compare the plans." }, ...FakeLlm.say("The annual plan is cheaper.")]],
    {
      userText: "Can you compare your two plans and explain which one is cheaper over a whole year for me?",
      agent: { thinkingBudgetTokens: 2048 },
    },
  );
  expect(reply.thinking).toBe(true);
  expect(steps[0]).toMatchObject({ type: "line", source: "acknowledgement" });
  const spoken = steps.flatMap((s) => (s.type === "clause" ? [s.text] : [])).join("");
  expect(spoken).not.toContain("compare the plans");
});

test("interrupt(reason) aborts the model stream: the rounds stop and the reply keeps what was heard", async () => {
  const agent = testAgent();
  const prefix = await compilePromptPrefix(agent);
  const history = new History();
  const reply = new Reply(1, "Hi");
  history.beginReply(reply, "Hi");
  const settled: ReplyEvent[] = [];
  reply.on((e) => settled.push(e));
  const ctx: RoundsContext = {
    callId: "c",
    tenantId: "t",
    llm: llmWithFallback(new FakeLlm([FakeLlm.say("One. Two. Three. Four. Five.")], { tokenDelayMs: 20 }), {
      retries: 0,
    }),
    history,
    agent: () => ({ agent, prefix, toolRunner: { run: async () => ({ outcomes: [], actions: [] }) } }),
    handOff: async () => {},
    apology: APOLOGY,
    log: silentLogger,
  };
  const clauses: string[] = [];
  for await (const step of reply.rounds(ctx)) {
    if (step.type === "clause") clauses.push(step.text);
    if (clauses.length === 1) reply.interrupt("barge-in", new Map([[0, "One."]]), 3);
  }
  expect(clauses).toHaveLength(1);
  expect(reply.state).toBe("interrupted");
  expect(reply.signal.aborted).toBe(true);
  expect(reply.heard?.get(0)).toBe("One.");
  expect(settled.filter((e) => e.type === "settled")).toHaveLength(1);
  // Nothing of the unfinished round was written to the history by the generator.
  expect(history.messages.filter((m) => m.role === "assistant")).toEqual([]);
});
