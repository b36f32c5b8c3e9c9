// A Call constructed directly, with no socket: scripted providers, a link that records what the carrier would
// get, a clock the test ticks. It greets, answers a turn, and ends with one call.ended; a recognizer that
// stalls while the caller speaks is reopened, counted, and the caller hears the filler instead of silence.
import { afterAll, expect, test } from "vitest";
import { Call } from "../../../../media-nodes/src/pipeline/call.ts";
import { FakeLlm, FakeStt, FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { fakeSpeech } from "../../../../media-nodes/src/providers/fake/tts.ts";
import { llmWithFallback, ttsWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import { InMemorySessionSink } from "../../../../media-nodes/src/session-sink/in-memory.ts";
import type { CallTokenClaims } from "../../../../shared/call-token.ts";
import { compilePromptPrefix } from "../../../../shared/prompt-prefix.ts";
import { testAgent } from "../support/harness.ts";
import { ManualClock, partsEnv, RecordingLink, until } from "../support/parts.ts";

const env = partsEnv();
afterAll(() => env.close());

const LINES = { filler: "Sorry, one moment…", apology: "Sorry, I'm having trouble.", drainGoodbye: "Goodbye for now." };

async function setup(llm: FakeLlm, agentOverrides: Parameters<typeof testAgent>[0] = {}) {
  const agent = testAgent(agentOverrides);
  const prefix = await compilePromptPrefix(agent);
  const stt = new FakeStt();
  const tts = new FakeTts({ bytesPerChar: 40, firstByteMs: 0 });
  const sink = new InMemorySessionSink();
  const link = new RecordingLink();
  const clock = new ManualClock(() => performance.now());
  const claims = {
    callId: `call_direct_${Math.random().toString(36).slice(2, 8)}`,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    agentVersion: agent.version,
    prefixHash: prefix.hash,
    region: "test-1",
  } as unknown as CallTokenClaims;
  const call = new Call(
    { claims, agent, prefix, transport: "twilio", link, carrier: { streamId: "MZ123", callRef: "CA456" } },
    {
      stt,
      llm: llmWithFallback(llm, { retries: 0 }),
      tts: ttsWithFallback(tts, { fallbackVoice: agent.fallbackVoice }),
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
  await until(() => env.audioCache.get(agent.voice, LINES.filler) !== undefined, "the filler to be synthesized");
  return { call, stt, tts, sink, link, clock, agent };
}

test("greeting, one answered turn, and the end: the parts publish one story", async () => {
  const s = await setup(new FakeLlm([FakeLlm.say("We open at nine.")]), { firstMessage: "Hi, Spokes here." });
  expect(s.sink.ofType("call.started")[0]!.carrier).toEqual({ streamId: "MZ123", callRef: "CA456" });
  await until(() => s.call.reply?.endMark !== undefined, "the greeting's audio");
  s.clock.tick(200);
  for (const m of s.link.marks()) s.call.onMark(m);
  expect(s.sink.ofType("turn").map((t) => t.index)).toEqual([0]);

  s.stt.emit(FakeStt.final("When do you open?"));
  await until(() => s.call.reply?.endMark !== undefined && s.call.reply.index === 1, "the answer's audio");
  s.clock.tick(200);
  for (const m of s.link.marks()) s.call.onMark(m);
  const turns = s.sink.ofType("turn");
  expect(turns.map((t) => [t.index, t.userText, t.assistantText])).toEqual([
    [0, "", "Hi, Spokes here."],
    [1, "When do you open?", "We open at nine."],
  ]);
  expect(s.call.history.messages.map((m) => m.role)).toEqual(["assistant", "user", "assistant"]);

  s.call.end("caller-hung-up", "test");
  s.call.end("caller-hung-up", "again");
  expect(s.sink.ofType("call.ended")).toMatchObject([{ reason: "caller-hung-up", turns: 1 }]);
  expect(s.link.closed).toBe(true);
  expect(s.tts.sessions[0]!.closed).toBe(true);
});

test("a recognizer that stalls while the caller speaks: reopened with the replay, counted, and a filler plays", async () => {
  const s = await setup(new FakeLlm([FakeLlm.say("Sure.")]));
  const before = env.metrics.sttRecoveries.get({ cause: "stall" });
  const voice = fakeSpeech(160);
  const silence = new Uint8Array(160).fill(0xff);
  // 1.2 s of speech, then silence: the recognizer says nothing at all.
  const started = performance.now();
  while (s.stt.sessions.length === 1 && performance.now() - started < 5_000) {
    s.call.onAudio(performance.now() - started < 1_200 ? voice : silence);
    s.clock.tick();
    await new Promise((r) => setTimeout(r, 20));
  }
  const noticedAfter = performance.now() - started;
  expect(s.stt.sessions).toHaveLength(2);
  expect(noticedAfter).toBeLessThan(2_400);
  expect(env.metrics.sttRecoveries.get({ cause: "stall" }) - before).toBe(1);
  // The fresh session heard the caller's sentence again.
  await until(() => s.stt.sessions[1]!.audioBytes >= 1_200 * 8, "the replay");
  // The caller has stopped and the agent is quiet: the filler plays.
  const bytesBefore = s.link.frames();
  for (let i = 0; i < 10; i++) {
    s.clock.tick();
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(s.link.frames()).toBeGreaterThan(bytesBefore);
  // The fresh session works: the caller's turn is answered.
  s.stt.emit(FakeStt.final("Can you hear me?"));
  await until(() => s.call.reply?.generated.join("") === "Sure.", "the answer");
  s.call.end("caller-hung-up", "test");
});
