// Replies, constructed directly: a caller's turn that arrives before the agent said anything folds into the
// previous one (one turn, one reply); a turn that arrives while the agent talks supersedes it; a handoff moves
// the next round to the other agent. Scripted model and voice, a recording link, no socket.
import { afterAll, expect, test } from "vitest";
import { AgentAudio } from "../../../../media-nodes/src/pipeline/agent-audio.ts";
import { History } from "../../../../media-nodes/src/pipeline/history.ts";
import { interrupt } from "../../../../media-nodes/src/pipeline/interruption.ts";
import { Replies } from "../../../../media-nodes/src/pipeline/replies.ts";
import type { ToolRunnerPort } from "../../../../media-nodes/src/pipeline/reply-rounds.ts";
import { Telemetry } from "../../../../media-nodes/src/pipeline/telemetry.ts";
import { FakeLlm, type FakeLlmTurn, FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import type { CallTokenClaims } from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

async function setup(script: FakeLlmTurn[], opts: { ttftMs?: number; toolRunner?: ToolRunnerPort } = {}) {
  const agent = testAgent();
  const prefix = await compilePromptPrefix(agent);
  const other = testAgent({ agentId: "agt_billing", systemPrompt: "You handle billing." });
  const otherPrefix = await compilePromptPrefix(other);
  const link = new RecordingLink();
  const clock = new ManualClock(() => performance.now());
  const sink = new InMemorySessionSink();
  const history = new History();
  const llm = new FakeLlm(script, { ttftMs: opts.ttftMs ?? 0 });
  const telemetry = new Telemetry({ callId: "call_r", sink, metrics: env.metrics, log: env.logger, notify: () => {} });
  const audio = new AgentAudio({
    link,
    metrics: env.metrics,
    audioCache: env.audioCache,
    clock,
    voice: agent.voice,
    onFrame: () => {},
    onTick: () => {},
    onPlayed: (r) => replies.onPlayed(r),
    onGoodbyePlayed: () => {},
    onSlowConsumer: () => {},
  });
  const tts = await new FakeTts({ bytesPerChar: 40, firstByteMs: 0 }).open(
    { voice: agent.voice, encoding: "mulaw", sampleRate: 8_000 },
    (e) => audio.onTtsEvent(e),
  );
  audio.attach(tts);
  const handedOff: string[] = [];
  const replies: Replies = new Replies({
    claims: { callId: "call_r", tenantId: agent.tenantId } as CallTokenClaims,
    agent: { agent, prefix, toolRunner: opts.toolRunner ?? { run: async () => ({ outcomes: [], actions: [] }) } },
    llm: llmWithFallback(llm, { retries: 0 }),
    history,
    audio,
    telemetry,
    apology: "Sorry.",
    log: env.logger,
    poll: () => {},
    interrupt: (i) => interrupt({ audio, history, reply: replies.current }, i),
    handOff: async () => ({
      ok: true,
      agent: other,
      prefix: otherPrefix,
      toolRunner: { run: async () => ({ outcomes: [], actions: [] }) },
    }),
    onHandedOff: (a) => handedOff.push(a.agent.agentId),
    onFailed: (err) => {
      throw err;
    },
    onAgentEnded: () => {},
  });
  return { replies, llm, sink, history, clock, link, handedOff };
}

test("the caller goes on before the agent said anything: the two turns fold into one reply", async () => {
  const s = await setup([FakeLlm.say("unused"), FakeLlm.say("Sure, Tuesday works.")], { ttftMs: 300 });
  s.replies.onUserTurn("I'd like to book", 1_000, 1_100);
  await until(() => s.llm.requests.length === 1, "the first request");
  s.replies.onUserTurn("a repair for Tuesday.", 2_000, 2_100);
  expect(s.replies.current!.userText).toBe("I'd like to book a repair for Tuesday.");
  await until(() => s.replies.current!.state === "speaking", "the reply to be generated", 5_000);
  // One user message in the second request, with both parts; the folded reply left no record.
  const messages = s.llm.requests[1]!.messages;
  expect(messages).toEqual([
    { role: "user", content: [{ type: "text", text: "I'd like to book a repair for Tuesday." }] },
  ]);
  expect(s.sink.ofType("turn")).toEqual([]);
  expect(s.llm.requests[0]!.signal?.aborted).toBe(true);
  // The edge already has the first part's words (its checkpoint): the turn that answers both says it folded them.
  expect(s.sink.ofType("turn.caller-final").map((e) => [e.index, e.text, e.folds])).toEqual([
    [1, "I'd like to book", undefined],
    [2, "I'd like to book a repair for Tuesday.", 1],
  ]);
});

test("the caller speaks while the agent is talking: the reply is superseded, kept as heard, and a new one starts", async () => {
  const s = await setup([FakeLlm.say("We open at nine on weekdays and at ten on weekends."), FakeLlm.say("Okay.")]);
  s.replies.onUserTurn("When are you open?", 1_000, 1_100);
  await until(() => s.replies.current!.endMark !== undefined, "the answer's audio");
  s.clock.tick(10);
  s.replies.onUserTurn("Thanks, bye.", 5_000, 5_100);
  const [first] = s.sink.ofType("turn");
  expect(first).toMatchObject({ index: 1, interrupted: true });
  expect(s.link.sent.some((r) => r.type === "clear")).toBe(true);
  expect(s.replies.current!.index).toBe(2);
  await until(() => s.replies.current!.state === "speaking", "the second reply");
  const assistant = s.history.messages.filter((m) => m.role === "assistant");
  expect(assistant).toHaveLength(2);
  expect(JSON.stringify(assistant[0])).not.toContain("weekends");
});

test("a handoff action moves the next round to the other agent's prompt, in the same reply", async () => {
  const handoff = {
    type: "handoff_to_agent" as const,
    agentId: "agt_billing",
    agentVersion: 3,
    prefixHash: "a".repeat(64),
    context: { recentHistory: [], entities: { order: "42" }, intent: "a refund", reason: "billing" },
  };
  const s = await setup(
    [
      [{ type: "tool-use", id: "h1", name: "handoff_to_agent", input: {} }],
      FakeLlm.say("Billing here, happy to help."),
    ],
    {
      toolRunner: {
        run: async (calls) => ({
          outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { ok: true }, ms: 1 })),
          actions: [handoff],
        }),
      },
    },
  );
  s.replies.onUserTurn("I want a refund.", 1_000, 1_100);
  await until(() => s.replies.current!.state === "speaking", "the reply");
  expect(s.handedOff).toEqual(["agt_billing"]);
  expect(s.llm.requests[1]!.system).toContain("You handle billing.");
  expect(JSON.stringify(s.history.messages)).toContain("What they want: a refund");
  expect(s.sink.ofType("action")).toMatchObject([{ action: { type: "handoff_to_agent", agentId: "agt_billing" } }]);
});
