// A Call constructed directly (scripted providers, a recording link, a clock the test ticks). It checkpoints every
// finished piece of a turn as it exists: the caller's final words before the model is asked, and the agent's words at
// each echoed mark (never those of a mark the caller did not hear). A call moved here from a lost node starts from its
// checkpoint: no greeting, the bridge line as turn `nextTurnIndex`, then the answer the caller was owed, asked with
// the history as heard.
import { afterAll, expect, test } from "vitest";
import { Call } from "../../../../media-nodes/src/pipeline/call.ts";
import { FakeLlm, FakeStt, FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback, ttsWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import type { CallCheckpoint } from "../../../../shared/call-checkpoint.ts";
import type { CallTokenClaims } from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

const LINES = {
  filler: "Sorry, one moment…",
  apology: "Sorry, I'm having trouble.",
  drainGoodbye: "Goodbye for now.",
  bridge: "Sorry, I lost you for a second…",
};

/** What a checkpoint says of the call itself, as its resume token names it. */
const callOf = ({ callId, tenantId, agentId, agentVersion, prefixHash }: CallTokenClaims) => ({
  callId,
  tenantId,
  agentId,
  agentVersion,
  prefixHash,
});

async function setup(
  llm: FakeLlm,
  resume?: (claims: CallTokenClaims) => CallCheckpoint,
  sink = new InMemorySessionSink(),
) {
  const agent = testAgent({ firstMessage: "Hi, Spokes here." });
  const prefix = await compilePromptPrefix(agent);
  const stt = new FakeStt();
  const link = new RecordingLink();
  const clock = new ManualClock(() => performance.now());
  const claims = {
    callId: `call_resume_${Math.random().toString(36).slice(2, 8)}`,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash: prefix.hash,
    region: "test-1",
  } as unknown as CallTokenClaims;
  const call = new Call(
    {
      claims,
      agent,
      prefix,
      transport: "twilio",
      link,
      carrier: {},
      ...(resume ? { resume: resume(claims) } : {}),
    },
    {
      stt,
      llm: llmWithFallback(llm, { retries: 0 }),
      tts: ttsWithFallback(new FakeTts({ bytesPerChar: 40, firstByteMs: 0 }), { fallbackVoice: agent.fallbackVoice }),
      toolRunner: { run: async () => ({ outcomes: [], actions: [] }) },
      sink,
      metrics: env.metrics,
      clock,
      audioCache: env.audioCache,
      logger: env.logger,
      nodeId: "node-direct",
      deadAirMs: 2_000,
      lines: LINES,
    },
  );
  await call.start();
  return { call, stt, sink, link, clock };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Plays whatever is queued and echoes its marks, as the carrier would once the caller heard it. */
function hearAll(s: Setup): void {
  s.clock.tick(200);
  for (const m of s.link.marks()) s.call.onMark(m);
}

test("the caller's words are checkpointed before the model is asked, the agent's at each mark the caller heard", async () => {
  const llm = new FakeLlm([FakeLlm.say("Your order ships today. It arrives on Friday.")]);
  const s = await setup(llm);
  await until(() => s.call.reply?.endMark !== undefined, "the greeting's audio");
  hearAll(s);
  expect(s.sink.ofType("turn.agent-heard").map((e) => [e.index, e.text])).toContainEqual([0, "Hi, Spokes here."]);

  s.stt.emit(FakeStt.final("Where is my order 48213?"));
  const [final] = s.sink.ofType("turn.caller-final");
  expect(final).toMatchObject({ index: 1, text: "Where is my order 48213?" });
  // Published before the model's answer could have been: it precedes every event of the reply.
  expect(s.sink.ofType("turn").map((t) => t.index)).toEqual([0]);
  expect(final?.entities).toMatchObject({ orderNumber: "48213" });

  await until(() => s.call.reply?.endMark !== undefined && s.call.reply.index === 1, "the answer's audio");
  hearAll(s);
  const heard = s.sink.ofType("turn.agent-heard").filter((e) => e.index === 1);
  expect(heard.at(-1)?.text).toBe("Your order ships today. It arrives on Friday.");
  // Every checkpoint is numbered like any session event.
  const seqs = s.sink.events.filter((e) => e.callId === s.call.callId).map((e) => e.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  s.call.end("caller-hung-up", "test");
});

test("a mark the caller never heard (cleared by a barge-in) is never checkpointed", async () => {
  const llm = new FakeLlm([FakeLlm.say("First sentence here. Second sentence here. Third sentence here.")]);
  const s = await setup(llm);
  await until(() => s.call.reply?.endMark !== undefined, "the greeting's audio");
  hearAll(s);
  s.stt.emit(FakeStt.final("Tell me everything."));
  await until(() => s.call.reply?.endMark !== undefined && s.call.reply.index === 1, "the answer's audio");
  s.clock.tick(200);
  // The carrier echoes the first mark (heard); then the caller cuts in, and a carrier echoes the rest at the clear.
  const marks = s.link.marks().filter((m) => m.startsWith("t1c"));
  expect(marks.length).toBeGreaterThan(1);
  s.call.onMark(marks[0]!);
  s.call.agentAudio.clear(performance.now(), s.call.reply);
  for (const m of marks.slice(1)) s.call.onMark(m);
  const heard = s.sink.ofType("turn.agent-heard").filter((e) => e.index === 1);
  expect(heard).toHaveLength(1);
  expect(heard[0]?.text).toBe("First sentence here.");
  s.call.end("caller-hung-up", "test");
});

test("a resumed call: no greeting, the bridge as turn nextTurnIndex, then the answer it owed, asked with the history as heard", async () => {
  const llm = new FakeLlm([FakeLlm.say("Order 48213 ships today.")]);
  const s = await setup(llm, (claims) => ({
    ...callOf(claims),
    resume: 1,
    history: [{ index: 0, role: "assistant", text: "Hi, Spokes here.", interrupted: false }],
    entities: {},
    inProgress: { index: 1, callerText: "Where is my order 48213?", agentHeard: "" },
    nextTurnIndex: 2,
  }));
  await until(() => s.call.reply?.endMark !== undefined, "the bridge's audio");
  expect(s.call.reply?.index).toBe(2);
  // The model is not asked before the bridge has played.
  expect(llm.requests).toHaveLength(0);
  hearAll(s);
  expect(s.sink.ofType("turn").map((t) => [t.index, t.userText, t.assistantText])).toEqual([[2, "", LINES.bridge]]);
  // The bridge is the platform's own line, stored as one (the model said nothing in this turn).
  expect(s.sink.ofType("turn")[0]).toMatchObject({
    generatedText: "",
    lines: [{ source: "bridge", text: LINES.bridge }],
  });

  await until(() => s.call.reply?.endMark !== undefined && s.call.reply.index === 3, "the owed answer's audio");
  hearAll(s);
  expect(llm.requests[0]?.messages.map((m) => [m.role, JSON.stringify(m.content)])).toEqual([
    ["assistant", JSON.stringify([{ type: "text", text: "Hi, Spokes here." }])],
    ["user", JSON.stringify([{ type: "text", text: "Where is my order 48213?" }])],
  ]);
  const turns = s.sink.ofType("turn");
  expect(turns.map((t) => [t.index, t.userText, t.assistantText])).toEqual([
    [2, "", LINES.bridge],
    [3, "", "Order 48213 ships today."],
  ]);
  // No caller row is written again: the caller's words are stored under turn 1 already.
  expect(s.sink.ofType("turn.caller-final")).toEqual([]);

  s.stt.emit(FakeStt.final("Thanks."));
  expect(s.sink.ofType("turn.caller-final")).toMatchObject([{ index: 4, text: "Thanks." }]);
  s.call.end("caller-hung-up", "test");
});

test("a resumed call whose turns had all finished: the bridge is stored as a bridge line, and the model knows it said it", async () => {
  const llm = new FakeLlm([FakeLlm.say("We open at nine on Saturday.")]);
  const s = await setup(llm, (claims) => ({
    ...callOf(claims),
    resume: 1,
    history: [
      { index: 0, role: "assistant", text: "Hi, Spokes here.", interrupted: false },
      { index: 1, role: "user", text: "Where is my order 48213?", interrupted: false },
      { index: 1, role: "assistant", text: "It ships today.", interrupted: false },
    ],
    entities: {},
    inProgress: null,
    nextTurnIndex: 2,
  }));
  await until(() => s.call.reply?.endMark !== undefined, "the bridge's audio");
  hearAll(s);
  expect(s.sink.ofType("turn")).toMatchObject([
    { index: 2, userText: "", assistantText: LINES.bridge, generatedText: "", lines: [{ source: "bridge" }] },
  ]);
  // Nothing was owed: the model waits for the caller, and then hears of the bridge as its own last words.
  expect(llm.requests).toHaveLength(0);
  s.stt.emit(FakeStt.final("When do you open on Saturday?"));
  await until(() => llm.requests.length > 0, "the model to be asked");
  // (Two assistant turns in a row are one message to the model.)
  expect(llm.requests[0]?.messages.slice(-2)).toEqual([
    {
      role: "assistant",
      content: [
        { type: "text", text: "It ships today." },
        { type: "text", text: LINES.bridge },
      ],
    },
    { role: "user", content: [{ type: "text", text: "When do you open on Saturday?" }] },
  ]);
  s.call.end("caller-hung-up", "test");
});

test("a caller who cuts the bridge short: its turn is stored interrupted with the bridge line and no text; the model, told of it, answers them", async () => {
  const llm = new FakeLlm([FakeLlm.say("Sure, I can cancel it.")]);
  const s = await setup(llm, (claims) => ({
    ...callOf(claims),
    resume: 1,
    history: [
      { index: 0, role: "assistant", text: "Hi, Spokes here.", interrupted: false },
      { index: 1, role: "user", text: "Where is my order 48213?", interrupted: false },
      { index: 1, role: "assistant", text: "It ships today.", interrupted: false },
    ],
    entities: {},
    inProgress: null,
    nextTurnIndex: 2,
  }));
  await until(() => s.call.reply?.endMark !== undefined, "the bridge's audio");
  // The bridge is still queued for the caller (not played out) when their words come over it.
  s.stt.emit(FakeStt.final("Actually I want to cancel that order please."));
  await until(() => llm.requests.length > 0, "the model to be asked");
  expect(s.sink.ofType("turn")).toMatchObject([
    { index: 2, interrupted: true, assistantText: "", lines: [{ source: "bridge", text: LINES.bridge }] },
  ]);
  // The bridge was begun, so the model still knows the line dropped (it joined the agent's last message, which a
  // cut reply does not trim); the caller's words are what it answers.
  expect(llm.requests[0]?.messages.slice(-2)).toEqual([
    {
      role: "assistant",
      content: [
        { type: "text", text: "It ships today." },
        { type: "text", text: LINES.bridge },
      ],
    },
    { role: "user", content: [{ type: "text", text: "Actually I want to cancel that order please." }] },
  ]);
  s.call.end("caller-hung-up", "test");
});

test("a resumed call cut mid-answer: the heard part is the agent's, and the model is told to finish it", async () => {
  const llm = new FakeLlm([FakeLlm.say("It arrives on Friday.")]);
  const s = await setup(llm, (claims) => ({
    ...callOf(claims),
    resume: 1,
    history: [{ index: 0, role: "assistant", text: "Hi, Spokes here.", interrupted: false }],
    entities: {},
    inProgress: { index: 1, callerText: "Where is my order 48213?", agentHeard: "Your order ships today." },
    nextTurnIndex: 2,
  }));
  await until(() => s.call.reply?.endMark !== undefined, "the bridge's audio");
  hearAll(s);
  await until(() => llm.requests.length > 0, "the model to be asked");
  const messages = llm.requests[0]!.messages;
  expect(messages.map((m) => m.role)).toEqual(["assistant", "user", "assistant", "user"]);
  expect(JSON.stringify(messages[2]?.content)).toContain("Your order ships today.");
  expect(JSON.stringify(messages[3]?.content)).toMatch(/line dropped.*Finish it/);
  s.call.end("caller-hung-up", "test");
});

test("a checkpoint with nothing heard yet greets as a new call", async () => {
  const s = await setup(new FakeLlm([]), (claims) => ({
    ...callOf(claims),
    resume: 1,
    history: [],
    entities: {},
    inProgress: null,
    nextTurnIndex: 0,
  }));
  await until(() => s.call.reply?.endMark !== undefined, "the greeting's audio");
  hearAll(s);
  expect(s.sink.ofType("turn").map((t) => [t.index, t.assistantText])).toEqual([[0, "Hi, Spokes here."]]);
  s.call.end("caller-hung-up", "test");
});

test("the agent hangs up: call.ended is delivered before the carrier's socket closes (the edge decides on it)", async () => {
  let delivered = false;
  const sink = new (class extends InMemorySessionSink {
    override async flush(): Promise<void> {
      await new Promise((r) => setTimeout(r, 100));
      delivered = true;
    }
  })();
  const s = await setup(new FakeLlm([]), undefined, sink);
  s.call.end("agent-ended", "the agent ended the call");
  expect(sink.ofType("call.ended")).toMatchObject([{ reason: "agent-ended" }]);
  expect(s.link.closed).toBe(false);
  await until(() => s.link.closed, "the socket to close");
  expect(delivered).toBe(true);
});

test("a sink that never confirms holds the socket open only briefly (800 ms), then it closes anyway", async () => {
  const sink = new (class extends InMemorySessionSink {
    override flush(): Promise<void> {
      return new Promise(() => {});
    }
  })();
  const s = await setup(new FakeLlm([]), undefined, sink);
  const endedAt = performance.now();
  s.call.end("agent-ended", "the agent ended the call");
  await until(() => s.link.closed, "the socket to close");
  // Loose: a loaded machine may add a little, but the close must not wait on the sink.
  expect(performance.now() - endedAt).toBeLessThan(2_500);
});
