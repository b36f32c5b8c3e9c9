// Speculate, then commit, through the official SDKs (Deepgram listen v1/v2 and speak, Bedrock ConverseStream)
// against the emulators, called by the simulated Twilio caller speaking recorded lines. On Flux the node starts a
// reply on EagerEndOfTurn and the one that plays is that speculative reply; a caller who pauses mid-sentence
// (`…`) gets an eager end, then TurnResumed: that speculation is dropped and counted, and the answer is to the
// whole line. Nova-3 does the same from its own VAD and Finalize, holding unfinished words. On neither does the
// agent speak before the caller has finished. When the turn is confirmed after the speculation's first clause has
// been synthesized (a slower end of turn), that clause is held, unheard, and is the first thing the caller hears, at
// once, on the confirmation.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, LATENCY_PROFILES, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, runCall, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { bedrockLlm } from "../../../media-nodes/src/providers/bedrock/llm.ts";
import { deepgramFluxStt } from "../../../media-nodes/src/providers/deepgram/flux-stt.ts";
import { deepgramRecognizers } from "../../../media-nodes/src/providers/deepgram/recognizers.ts";
import { deepgramStt } from "../../../media-nodes/src/providers/deepgram/stt.ts";
import { deepgramTts } from "../../../media-nodes/src/providers/deepgram/tts.ts";
import type { SttProvider, TurnThresholds } from "../../../media-nodes/src/providers/types.ts";
import type { Recognizer } from "../../../shared/agent-config.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

let dg: DeepgramEmulator;
let br: BedrockEmulator;
const harnesses: Harness[] = [];
/** Every configure() the node made on a recogniser session, in order. */
const configured: Partial<TurnThresholds>[] = [];

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "realistic" }),
    startBedrockEmulator({ port: 0, profile: "realistic" }),
  ]);
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
  await Promise.all([dg?.close(), br?.close()]);
});

/** The real recogniser clients, with the node's configure() calls noted on the way through. */
function recognizers(deepgram: DeepgramEmulator): SttProvider {
  const real = deepgramRecognizers({
    flux: deepgramFluxStt({ apiKey: "emulator-key", baseUrl: deepgram.url }),
    nova: deepgramStt({ apiKey: "emulator-key", baseUrl: deepgram.url }),
  });
  return {
    name: real.name,
    async open(options, onEvent) {
      const session = await real.open(options, onEvent);
      return {
        get turnDetection() {
          return session.turnDetection;
        },
        sendAudio: (a) => session.sendAudio(a),
        finalize: () => session.finalize(),
        configure: (t) => {
          configured.push({ ...t });
          return session.configure(t);
        },
        close: () => session.close(),
      };
    },
  };
}

async function node(recognizer: Recognizer, deepgram = dg): Promise<Harness> {
  const h = await startHarness({
    agent: {
      recognizer,
      systemPrompt: "You are the receptionist of a bike shop. Answer in one short sentence.",
    },
    sttProvider: recognizers(deepgram),
    ttsProvider: deepgramTts({ apiKey: "emulator-key", baseUrl: deepgram.url }),
    llmProvider: bedrockLlm({
      region: "us-east-1",
      endpoint: br.url,
      credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    }),
  });
  harnesses.push(h);
  return h;
}

async function call(h: Harness, callId: string, script: string[], deepgram = dg) {
  const index = await loadFixtureIndex();
  const lines = script.map((name) => index.fixtures.find((f) => f.name === name)!.text);
  deepgram.setScript(callId, lines);
  const caller = await SimulatedCaller.connect({
    streamUrl: h.wsUrl(),
    customParameters: { token: await h.token({ callId }) },
    replyTimeoutMs: 15_000,
  });
  const report = await runCall(caller, { script, waitForGreeting: false });
  await until(() => h.sink.ofType("turn", callId).length >= script.length, "every turn recorded", 15_000);
  return { report, turns: h.sink.ofType("turn", callId) };
}

/** What the model was asked to answer, for the request whose reply is `text`. */
function askedFor(text: string): string | null | undefined {
  return br.requests().find((r) => r.reply?.text === text && !r.aborted)?.lastUserText;
}

describe.each(["flux", "nova-3"] as const)("%s", (recognizer) => {
  let h: Harness;
  beforeAll(async () => {
    h = await node(recognizer);
  });

  test("a finished line: the reply that plays was started speculatively, before the turn was confirmed", async () => {
    const { report, turns } = await call(h, `call_spec_done_${recognizer}`, ["opening-hours", "that-works"]);
    expect(report.errors).toEqual([]);
    for (const t of turns) {
      expect(t.waterfall).toMatchObject({ speculative: true, speculativeWasted: 0 });
      expect(t.waterfall.speculativeStarts).toBeGreaterThanOrEqual(1);
      // The model was asked before the recogniser confirmed the end: the wait is shorter than the confirmation's.
      expect(t.waterfall.llmRequestAt!).toBeLessThan(t.waterfall.sttFinalAt!);
      expect(t.waterfall.turnDetectionMs!).toBeLessThan(t.waterfall.sttMs!);
      // Its usage is billed as speculative, and what went to TTS is counted.
      expect(t.llmUsage?.some((u) => u.speculative)).toBe(true);
      expect(t.ttsCharacters).toBeGreaterThan(0);
      expect(askedFor(t.generatedText)).toBe(t.userText);
    }
    // The caller heard every answer after they finished, never over them.
    expect(report.turns.map((t) => t.firstAgentAudioMs! > 0)).toEqual([true, true]);
  }, 60_000);

  test("mid-sentence pauses: no cut-off, and the answer is to the whole line", async () => {
    // On Nova-3 each pause ends in a Finalize and a final for the words so far ("Um", then "let me think"): the
    // completeness hold keeps the turn open through the pause, and the caller's next words take the eager end back.
    const script = ["pause-order-number", "pause-thursday"];
    const { report, turns } = await call(h, `call_spec_pause_${recognizer}`, script);
    expect(report.errors).toEqual([]);
    // 0 cut-offs: the agent spoke only once each line was over, and answered each line as one turn.
    expect(report.turns.map((t) => t.timedOut)).toEqual(script.map(() => false));
    for (const t of report.turns) expect(t.firstAgentAudioMs!).toBeGreaterThan(0);
    expect(turns.map((t) => t.interrupted)).toEqual(script.map(() => false));
    expect(turns[0]!.userText).toMatch(/order number is .*(48213|4 ?8 ?2 ?1 ?3|four eight two one three)/i);
    expect(turns[1]!.userText).toMatch(/^um,? let me think,? Thursday would work/i);
    for (const t of turns) expect(askedFor(t.generatedText)).toBe(t.userText);
    if (recognizer === "flux") {
      // The pause gave an eager end and then TurnResumed: a speculation was dropped, and counted.
      expect(turns.some((t) => (t.waterfall.speculativeWasted ?? 0) >= 1)).toBe(true);
      // Digits being read raised the thresholds live (Configure), and the agent's came back after the turn.
      const raised = configured.findIndex((c) => c.eotThreshold === 0.9);
      expect(raised).toBeGreaterThanOrEqual(0);
      expect(configured.slice(raised + 1)).toContainEqual(expect.objectContaining({ eotThreshold: 0.7 }));
    }
  }, 60_000);
});

describe("flux, with an end of turn slower than the model and the voice", () => {
  // EndOfTurn 1.5 s after the end of speech (slower than the realistic 350, as the emulator allows): the model's
  // first clause (first token 350 ms after the eager end, 700 on a prompt-cache miss; first byte 120 ms later) is
  // synthesized before the turn is confirmed.
  let slow: DeepgramEmulator;
  let h: Harness;
  beforeAll(async () => {
    slow = await startDeepgramEmulator({ port: 0, profile: { ...LATENCY_PROFILES.realistic, fluxEotMs: 1_500 } });
    h = await node("flux", slow);
  });
  afterAll(async () => {
    await slow?.close();
  });

  test("the speculation's first clause is held unheard until the confirmation, then is the first thing heard, at once", async () => {
    const { report, turns } = await call(h, "call_spec_held_flux", ["opening-hours"], slow);
    expect(report.errors).toEqual([]);
    const [t] = turns;
    expect(t!.waterfall).toMatchObject({ speculative: true, speculativeWasted: 0, speculativeAudio: true });
    // Its audio was ready before the turn was confirmed, and nothing of it left before the confirmation.
    expect(t!.waterfall.audioReadyBeforeConfirmMs!).toBeGreaterThan(0);
    expect(t!.waterfall.firstAudioOutAt!).toBeGreaterThanOrEqual(t!.waterfall.sttFinalAt!);
    // On the confirmation it left at once: no model or voice latency after it.
    expect(t!.waterfall.firstAudioOutAt! - t!.waterfall.sttFinalAt!).toBeLessThan(100);
    expect(report.turns[0]!.firstAgentAudioMs!).toBeGreaterThan(0);
  }, 60_000);
});
