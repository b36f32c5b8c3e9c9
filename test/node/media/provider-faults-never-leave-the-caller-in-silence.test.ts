// Provider faults: the caller never sits in more than ~2 s of dead air (a filler line plays), a model
// that cannot answer becomes a spoken apology, a failing voice falls back to another, and a call that
// breaks ends alone while the node keeps serving the others.
import { afterEach, expect, test } from "vitest";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { LlmError, type LlmProvider } from "../../../media-nodes/src/providers/types.ts";
import { type Harness, sleep, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

async function call(harness: Harness): Promise<TwilioTestClient> {
  const before = harness.stt.sessions.length;
  const caller = await TwilioTestClient.connect(harness.wsUrl());
  caller.start(await harness.token());
  await until(() => harness.stt.sessions.length > before, "the call to start");
  // Pre-synthesized lines are ready before the caller says anything.
  await until(() => harness.tts.synthesized.length >= 4, "pre-synthesis");
  return caller;
}

test("a slow model gets a filler line within two seconds of the caller falling silent, then the answer", async () => {
  h = await startHarness({
    llm: [FakeLlm.say("Thanks for waiting, your bike is ready.")],
    llmOptions: { ttftMs: 3_200 },
    tts: { bytesPerChar: 40 },
  });
  const caller = await call(h);
  caller.talk(true);
  await sleep(600);
  caller.talk(false);
  await until(() => caller.lastLoudFrameAt > 0, "the caller to have spoken");
  await sleep(40);
  const speechEnd = caller.lastLoudFrameAt + 20;
  // Recognition takes its time: the final arrives half a second after the caller stopped. That silence
  // counts towards the two seconds; the caller does not know the recognizer was slow.
  await sleep(500);
  h.stt.sessions[0]!.emit(FakeStt.final("Is my bike ready?"));
  await until(() => caller.receivedBytes > 0, "anything to be heard", 5_000);
  const silence = caller.events("media")[0]!.at - speechEnd;
  expect(silence).toBeGreaterThan(1_700);
  // Two seconds, plus at most one 20 ms frame in flight.
  expect(silence).toBeLessThanOrEqual(2_000 + 20);
  await until(() => h!.sink.ofType("turn").length === 1, "the answer", 15_000);
  const [turn] = h.sink.ofType("turn");
  expect(turn!.waterfall.firstAudioSource).toBe("filler");
  expect(turn!.assistantText).toBe("Thanks for waiting, your bike is ready.");
  expect(h.node.metrics.fillers.get()).toBe(1);
  await caller.hangUp();
});

test("a model that stays throttled becomes a spoken apology, and the call goes on", async () => {
  let calls = 0;
  const flaky: LlmProvider = {
    name: "flaky",
    async *stream(request) {
      calls += 1;
      if (calls <= 2) throw new LlmError("throttled", "ThrottlingException: rate exceeded");
      yield* new FakeLlm([FakeLlm.say("Yes, we repair e-bikes.")]).stream(request);
    },
  };
  h = await startHarness({ llmProvider: flaky, tts: { bytesPerChar: 40 } });
  const caller = await call(h);
  const stt = h.stt.sessions[0]!;
  stt.emit(FakeStt.final("Hello?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the apology to play", 15_000);
  const [apology] = h.sink.ofType("turn");
  expect(apology!.waterfall.firstAudioSource).toBe("apology");
  expect(caller.receivedBytes).toBeGreaterThan(0);
  expect(calls).toBe(2); // one retry, then the only Haiku model was exhausted

  stt.emit(FakeStt.final("Do you repair e-bikes?"));
  await until(() => h!.sink.ofType("turn").length === 2, "the next answer", 15_000);
  expect(h.sink.ofType("turn")[1]!.assistantText).toBe("Yes, we repair e-bikes.");
  expect(caller.closeCode).toBeUndefined();
  await caller.hangUp();
});

test("when the agent's voice fails, the fallback voice speaks", async () => {
  h = await startHarness({
    agent: { voice: "aura-2-broken-en", fallbackVoice: "aura-2-andromeda-en" },
    llm: [FakeLlm.say("Still here and happy to help.")],
    tts: { bytesPerChar: 40, failVoices: ["aura-2-broken-en"] },
  });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  h.stt.emit(FakeStt.final("Are you there?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the answer", 15_000);
  expect(h.tts.sessions.map((s) => s.options.voice)).toEqual(["aura-2-andromeda-en"]);
  expect(caller.receivedBytes).toBeGreaterThan(0);
  await caller.hangUp();
});

test("an exception inside one call ends that call only", async () => {
  let doomedCallId: string | undefined;
  h = await startHarness({
    agent: {
      tools: [
        {
          name: "lookup_order",
          description: "Look up an order.",
          inputSchema: { type: "object" },
          webhook: { url: "https://tenant.example/order", timeoutMs: 1000 },
        },
      ],
    },
    llm: [[{ type: "tool-use", id: "t1", name: "lookup_order", input: {} }], FakeLlm.say("Your order is on its way.")],
    createToolRunner: () => ({
      async run(calls, ctx) {
        if (ctx.callId === doomedCallId) throw new TypeError("cannot read properties of undefined (a bug)");
        return {
          outcomes: calls.map((c) => ({ id: c.id, name: c.name, ok: true, result: { ok: true }, ms: 1 })),
          actions: [],
        };
      },
    }),
    tts: { bytesPerChar: 40 },
  });
  const doomed = await TwilioTestClient.connect(h.wsUrl());
  doomed.start(await h.token());
  await until(() => h!.sink.ofType("call.started").length === 1, "the first call to start");
  doomedCallId = h.sink.ofType("call.started")[0]!.callId;
  const healthy = await TwilioTestClient.connect(h.wsUrl());
  healthy.start(await h.token());
  await until(() => h!.stt.sessions.length === 2, "both calls to start");

  h.stt.sessions[0]!.emit(FakeStt.final("Where is my order?"));
  await doomed.closed();
  expect([doomed.closeCode, doomed.closeReason]).toEqual([1011, "internal error"]);
  h.stt.sessions[1]!.emit(FakeStt.final("Where is my order?"));
  await until(
    () => h!.sink.ofType("turn").some((t) => t.assistantText === "Your order is on its way."),
    "the other call",
  );
  expect(healthy.closeCode).toBeUndefined();
  expect(h.sink.ofType("call.ended").map((e) => e.reason)).toEqual(["internal-error"]);
  expect(h.node.metrics.callErrors.get({ stage: "turn" })).toBe(1);
  await healthy.hangUp();
});
