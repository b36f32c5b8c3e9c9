// Speculative replies, with Replies constructed directly: a reply started on an eager end of turn asks the model
// at once and synthesizes its first clause, but plays nothing and runs no tool until the turn is confirmed with the
// same words (then the held clause plays at once); one the caller overtook is dropped, rewound out of the history
// and counted (requests and tokens), its audio discarded and TTS cleared, and never recorded as a turn.
import { afterAll, expect, test } from "vitest";
import { AgentAudio } from "../../../../media-nodes/src/pipeline/agent-audio.ts";
import { History } from "../../../../media-nodes/src/pipeline/history.ts";
import { interrupt } from "../../../../media-nodes/src/pipeline/interruption.ts";
import { MAX_SPECULATIVE_STARTS, Replies } from "../../../../media-nodes/src/pipeline/replies.ts";
import type { ToolRunnerPort } from "../../../../media-nodes/src/pipeline/reply-rounds.ts";
import { Telemetry } from "../../../../media-nodes/src/pipeline/telemetry.ts";
import {
  FakeLlm,
  type FakeLlmTurn,
  FakeTts,
  type FakeTtsSession,
} from "../../../../media-nodes/src/providers/fake/index.ts";
import { llmWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import type { LlmEvent } from "../../../../media-nodes/src/providers/types.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import type { CallTokenClaims } from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

const USAGE = { inputTokens: 900, outputTokens: 12, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
const say = (text: string): LlmEvent[] => [...FakeLlm.say(text), { type: "usage", usage: USAGE }];

/** μ-law bytes the fake voice makes per character. */
const BYTES_PER_CHAR = 40;

async function setup(script: FakeLlmTurn[], toolRunner?: ToolRunnerPort, ttsFirstByteMs = 0) {
  const agent = testAgent();
  const prefix = await compilePromptPrefix(agent);
  const link = new RecordingLink();
  const clock = new ManualClock(() => performance.now());
  const sink = new InMemorySessionSink();
  const history = new History();
  const llm = new FakeLlm(script);
  const telemetry = new Telemetry({ callId: "call_s", sink, metrics: env.metrics, log: env.logger, notify: () => {} });
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
  const tts = await new FakeTts({ bytesPerChar: BYTES_PER_CHAR, firstByteMs: ttsFirstByteMs }).open(
    { voice: agent.voice, encoding: "mulaw", sampleRate: 8_000 },
    (e) => audio.onTtsEvent(e),
  );
  audio.attach(tts);
  const replies: Replies = new Replies({
    claims: { callId: "call_s", tenantId: agent.tenantId } as CallTokenClaims,
    agent: { agent, prefix, toolRunner: toolRunner ?? { run: async () => ({ outcomes: [], actions: [] }) } },
    llm: llmWithFallback(llm, { retries: 0 }),
    history,
    audio,
    telemetry,
    apology: "Sorry.",
    log: env.logger,
    poll: () => {},
    interrupt: (i) => interrupt({ audio, history, reply: replies.current }, i),
    onHandedOff: () => {},
    onFailed: (err) => {
      throw err;
    },
    onAgentEnded: () => {},
  });
  return { replies, llm, sink, history, clock, link, audio, tts: tts as FakeTtsSession };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counter = (name: string) => {
  const line = env.metrics.registry
    .render()
    .split("\n")
    .find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(" ").at(-1)) : 0;
};

test("eager then confirmed with the same words: the speculative reply is the one that plays, and nothing played before", async () => {
  const s = await setup([say("Sure, we open at nine on Saturday.")]);
  expect(s.replies.speculate("What are your hours on Saturday?", performance.now() - 150)).toBe(true);
  await until(() => s.replies.speculation?.heldDone === true, "the speculation to finish generating");
  // The model was asked, flagged speculative; its first clause was synthesized, and nothing of it was queued for
  // the caller or heard however long the clock runs.
  expect(s.llm.requests).toHaveLength(1);
  expect(s.llm.requests[0]!.speculative).toBe(true);
  await until(() => s.tts.audioBytes >= "Sure,".length * BYTES_PER_CHAR, "the first clause's audio");
  expect(s.tts.texts).toEqual(["Sure,"]);
  s.clock.tick(10);
  expect(s.link.frames()).toBe(0);
  expect(s.audio.pacer.writtenBytes).toBe(0);
  expect(s.replies.current).toBeUndefined();

  const speechEndAt = performance.now() - 400;
  const confirmedAt = performance.now();
  s.replies.onUserTurn("What are your hours on Saturday?", speechEndAt, confirmedAt);
  const returnedAt = performance.now();
  expect(s.replies.current!.speculative).toBe(true);
  // The held clause is the caller's first frame, sent in the same event as the confirmation, before any clock tick.
  expect(s.link.frames()).toBe(1);
  expect(s.replies.current!.times.firstAudioOutAt).toBeGreaterThanOrEqual(confirmedAt);
  expect(s.replies.current!.times.firstAudioOutAt).toBeLessThanOrEqual(returnedAt);
  expect(s.llm.requests).toHaveLength(1); // committed, not asked again
  await until(() => s.replies.current!.endMark !== undefined, "the committed reply's audio");
  s.clock.tick(5);
  expect(s.link.frames()).toBeGreaterThan(0);
  s.replies.current!.played();
  const [turn] = s.sink.ofType("turn");
  expect(turn).toMatchObject({
    index: 1,
    userText: "What are your hours on Saturday?",
    generatedText: "Sure, we open at nine on Saturday.",
    waterfall: { speculative: true, speculativeStarts: 1, speculativeWasted: 0, speculativeAudio: true },
    llmUsage: [{ modelId: s.llm.requests[0]!.modelId, speculative: true, inputTokens: 900, outputTokens: 12 }],
    ttsCharacters: "Sure, we open at nine on Saturday.".length - 1,
  });
  // The model was asked before the turn was confirmed: turn detection's wait is below the confirmation's.
  expect(turn!.waterfall.llmRequestAt!).toBeLessThanOrEqual(turn!.waterfall.sttFinalAt!);
  // Its audio was ready before the confirmation.
  expect(turn!.waterfall.audioReadyBeforeConfirmMs!).toBeGreaterThan(0);
  // Every byte synthesized was queued once: the held clause and the rest, nothing twice.
  expect(s.audio.pacer.writtenBytes).toBe(s.replies.current!.ttsCharacters * BYTES_PER_CHAR);
});

test("a dropped speculation's clause is never heard: TTS is cleared mid-clause and the next reply's audio is all that plays", async () => {
  // A slow voice: the first clause is still being synthesized when the caller goes on.
  const s = await setup([say("Alright, which one?"), say("Order 48213 shipped on Monday.")], undefined, 60);
  s.replies.speculate("My order number is", 1_000);
  await until(() => s.tts.texts.length === 1, "the first clause sent to TTS");
  expect(s.tts.texts).toEqual(["Alright,"]);
  s.replies.dropSpeculation();
  expect(s.tts.clearCalls).toBe(1);
  await sleep(120); // well past the voice's first byte: anything it still sent for the dropped clause has arrived
  s.clock.tick(10);
  expect(s.link.frames()).toBe(0);
  expect(s.audio.pacer.writtenBytes).toBe(0);

  s.replies.onUserTurn("My order number is four eight two one three.", 3_000, 3_200);
  await until(() => s.replies.current!.endMark !== undefined, "the answer's audio");
  s.clock.tick(200);
  const answer = "Order 48213 shipped on Monday.";
  // Exactly the answer's audio was queued and sent: not a byte of "Alright,".
  expect(s.replies.current!.ttsCharacters).toBe(answer.length);
  expect(s.audio.pacer.writtenBytes).toBe(answer.length * BYTES_PER_CHAR);
  expect(s.link.frames()).toBe(Math.ceil((answer.length * BYTES_PER_CHAR) / 160));
  s.replies.current!.played();
  expect(s.sink.ofType("turn")[0]).toMatchObject({ generatedText: answer, waterfall: { speculative: false } });
});

test("a speculation dropped after its clause was synthesized leaves the voice alone and nothing of it plays", async () => {
  const s = await setup([say("Alright, which one?"), say("Thursday at ten is free.")]);
  s.replies.speculate("Um", 1_000);
  await until(() => s.replies.speculation?.heldDone === true, "the speculation to finish");
  await until(() => s.tts.audioBytes >= "Alright,".length * BYTES_PER_CHAR, "its clause's audio");
  await sleep(20); // and its Flushed
  s.replies.dropSpeculation();
  // Nothing was left to synthesize for it: no Clear needed.
  expect(s.tts.clearCalls).toBe(0);
  s.replies.onUserTurn("Um let me think Thursday would work.", 2_000, 2_300);
  await until(() => s.replies.current!.endMark !== undefined, "the answer's audio");
  expect(s.audio.pacer.writtenBytes).toBe("Thursday at ten is free.".length * BYTES_PER_CHAR);
});

test("a clear while the clause is held (the agent was stopped meanwhile) loses its audio: the commit says it again", async () => {
  const s = await setup([say("Sure, we open at nine on Saturday.")]);
  s.replies.speculate("What are your hours on Saturday?", performance.now() - 150);
  await until(() => s.replies.speculation?.heldDone === true, "the speculation to finish generating");
  await until(() => s.tts.audioBytes >= "Sure,".length * BYTES_PER_CHAR, "the first clause's audio");
  // Something stopped the agent's audio (the call's one clear): TTS and everything queued or held is dropped.
  s.audio.clear(performance.now(), undefined);
  s.replies.onUserTurn("What are your hours on Saturday?", performance.now() - 400, performance.now());
  await until(() => s.replies.current!.endMark !== undefined, "the committed reply's audio");
  s.clock.tick(200);
  // The opener was synthesized again and the caller hears the whole reply, once.
  expect(s.tts.texts.filter((t) => t === "Sure,")).toHaveLength(2);
  // Its two clauses ("Sure," and "we open at nine on Saturday."), each queued once.
  expect(s.audio.pacer.writtenBytes).toBe(("Sure,".length + "we open at nine on Saturday.".length) * BYTES_PER_CHAR);
  s.replies.current!.played();
  expect(s.sink.ofType("turn")[0]).toMatchObject({
    generatedText: "Sure, we open at nine on Saturday.",
    waterfall: { speculative: true, speculativeAudio: true },
  });
});

test("eager, resumed, then new words: the first speculation is dropped, rewound and counted; the answer is to the final words", async () => {
  const s = await setup([say("Which order?"), say("Order 48213 shipped on Monday.")]);
  const wastedBefore = counter("media_speculative_wasted_total");
  const tokensBefore = counter('media_speculative_wasted_tokens_total{kind="input"}');
  s.replies.speculate("My order number is", 1_000);
  await until(() => s.replies.speculation?.heldDone === true, "the first speculation");
  s.replies.dropSpeculation(); // the caller went on
  expect(s.history.messages).toEqual([]);
  s.replies.speculate("My order number is four eight two one three.", 3_000);
  await until(() => s.llm.requests.length === 2, "the second speculation's request");
  s.replies.onUserTurn("My order number is four eight two one three.", 3_000, 3_200);
  await until(() => s.replies.current!.state === "speaking", "the reply");
  // The second request saw only the final words: the dropped speculation left nothing in the history.
  expect(s.llm.requests[1]!.messages).toEqual([
    { role: "user", content: [{ type: "text", text: "My order number is four eight two one three." }] },
  ]);
  s.replies.current!.played();
  const turns = s.sink.ofType("turn");
  expect(turns).toHaveLength(1);
  expect(turns[0]).toMatchObject({
    generatedText: "Order 48213 shipped on Monday.",
    waterfall: { speculative: true, speculativeStarts: 2, speculativeWasted: 1 },
  });
  // The wasted request is billed: its tokens ride in the turn's usage as speculative, and the node counts them.
  const speculativeUsage = turns[0]!.llmUsage!.filter((u) => u.speculative);
  expect(speculativeUsage.reduce((n, u) => n + u.inputTokens, 0)).toBe(1_800);
  expect(counter("media_speculative_wasted_total") - wastedBefore).toBe(1);
  expect(counter('media_speculative_wasted_tokens_total{kind="input"}') - tokensBefore).toBe(900);
});

test("the confirmed text differs from the eager one: the speculation is aborted and a fresh reply answers the final text", async () => {
  const s = await setup([say("Okay."), say("Thursday at ten is free.")]);
  s.replies.speculate("Um", 1_000);
  await until(() => s.llm.requests.length === 1, "the speculation's request");
  s.replies.onUserTurn("Um let me think Thursday would work.", 2_000, 2_300);
  await until(() => s.replies.current!.state === "speaking", "the fresh reply");
  expect(s.replies.current!.speculative).toBe(false);
  expect(s.llm.requests[1]!.speculative).toBeUndefined();
  s.replies.current!.played();
  expect(s.sink.ofType("turn")[0]).toMatchObject({
    userText: "Um let me think Thursday would work.",
    generatedText: "Thursday at ten is free.",
    waterfall: { speculative: false, speculativeStarts: 1, speculativeWasted: 1 },
  });
});

test(`at most ${MAX_SPECULATIVE_STARTS} speculative starts per turn`, async () => {
  const s = await setup([say("a"), say("b"), say("c"), say("The answer.")]);
  for (let i = 0; i < 5; i++) {
    s.replies.speculate(`part ${i}`, 1_000 + i);
    s.replies.dropSpeculation();
  }
  expect(s.llm.requests.filter((r) => r.speculative)).toHaveLength(MAX_SPECULATIVE_STARTS);
  s.replies.onUserTurn("part 5", 2_000, 2_100);
  await until(() => s.replies.current!.state === "speaking", "the reply");
  // While the answer is still queued for the caller a new eager end is not a new turn; once it has played, the
  // next turn may speculate again.
  await until(() => s.replies.current!.endMark !== undefined, "the answer's audio queued");
  expect(s.replies.speculate("next turn", 8_000)).toBe(false);
  s.replies.current!.played();
  expect(s.replies.speculate("next turn", 9_000)).toBe(true);
});

test("no tool runs during speculation: a dropped one never runs it, a committed one runs it after the confirmation", async () => {
  const ran: string[] = [];
  const toolRunner: ToolRunnerPort = {
    run: async (calls) => {
      ran.push(...calls.map((c) => c.name));
      return {
        outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { booked: true }, ms: 1 })),
        actions: [],
      };
    },
  };
  const book: LlmEvent[] = [{ type: "tool-use", id: "t1", name: "book_repair", input: { day: "Tuesday" } }];
  const s = await setup([book, book, FakeLlm.say("Booked for Tuesday.")], toolRunner);
  s.replies.speculate("Book me in for Tuesday", 1_000);
  await until(() => s.llm.requests.length === 1, "the speculation's request");
  await sleep(50);
  expect(ran).toEqual([]);
  s.replies.dropSpeculation();
  await sleep(20);
  expect(ran).toEqual([]);

  s.replies.speculate("Book me in for Tuesday please.", 2_000);
  await until(() => s.llm.requests.length === 2, "the second speculation's request");
  await sleep(50);
  expect(ran).toEqual([]);
  s.replies.onUserTurn("Book me in for Tuesday please.", 2_000, 2_200);
  await until(() => ran.length === 1, "the tool after the confirmation");
  await until(() => s.replies.current!.state === "speaking", "the answer");
  expect(ran).toEqual(["book_repair"]);
});
