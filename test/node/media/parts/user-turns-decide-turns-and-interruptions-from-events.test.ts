// User turns, from scripted recognizer events and VAD verdicts alone: no socket, no provider. What the caller
// says becomes a turn with the time their speech ended; words over the agent interrupt it only past the
// agent's thresholds; back-channels and the agent's own echo are not turns.
import { expect, test } from "vitest";
import { type UserTurnEvent, UserTurns, type UserTurnsView } from "../../../../media-nodes/src/pipeline/user-turns.ts";
import type { SttEvent } from "../../../../media-nodes/src/providers/types.ts";
import { BargeInPolicySchema, TurnTakingSchema } from "../../../../shared/agent-config.ts";

/** Recognizer events as a script: words 0.3 s apart, 0.25 s long. */
const words = (text: string) =>
  text.split(" ").map((word, i) => ({ word, start: i * 0.3, end: i * 0.3 + 0.25, confidence: 0.98 }));
const FakeStt = {
  final: (text: string, opts: { speechFinal?: boolean } = {}): SttEvent => ({
    type: "final",
    text,
    words: words(text),
    speechFinal: opts.speechFinal ?? true,
    fromFinalize: false,
    confidence: 0.98,
  }),
  interim: (text: string): SttEvent => ({ type: "interim", text, words: words(text) }),
};

/** Words recognized too quickly to pass minDurationMs by their own timing (so the VAD decides). */
function quick(type: "interim" | "final", text: string, speechFinal = true): SttEvent {
  const words = text.split(" ").map((word, i) => ({ word, start: i * 0.02, end: i * 0.02 + 0.02, confidence: 0.9 }));
  return type === "interim"
    ? { type, text, words }
    : { type, text, words, speechFinal, fromFinalize: false, confidence: 0.9 };
}

function setup(view: Partial<UserTurnsView> & { audible?: boolean } = {}) {
  const events: UserTurnEvent[] = [];
  const state = { audible: view.audible ?? false, lastVoicedAt: Number.NEGATIVE_INFINITY, speechMs: 0 };
  const turns = new UserTurns(
    BargeInPolicySchema.parse({}),
    {
      agentAudible: () => state.audible,
      agentSentence: view.agentSentence ?? (() => ""),
      vadSpeechMs: () => state.speechMs,
      lastVoicedAt: () => state.lastVoicedAt,
    },
    (e) => events.push(e),
  );
  return { turns, events, state };
}

test("finals up to the recognizer's end of speech make one turn, ended when the VAD last heard the caller", () => {
  const { turns, events, state } = setup();
  turns.onFrame(1_000, true);
  state.lastVoicedAt = 2_400;
  turns.onStt(FakeStt.final("I'd like to book", { speechFinal: false }), 2_500);
  turns.onStt(FakeStt.final("a repair for Tuesday."), 2_800);
  expect(events).toEqual([
    { type: "speech-started", at: 1_000 },
    { type: "turn-ended", text: "I'd like to book a repair for Tuesday.", speechEndAt: 2_420, sttFinalAt: 2_800 },
  ]);
});

test("without a recent VAD end (an inaudible line), the turn ends at the last final", () => {
  const { turns, events } = setup();
  turns.onStt(FakeStt.final("Hello?", { speechFinal: false }), 10_000);
  turns.onStt({ type: "utterance-end", lastWordEnd: 1 }, 11_000);
  expect(events).toEqual([{ type: "turn-ended", text: "Hello?", speechEndAt: 10_000, sttFinalAt: 11_000 }]);
});

test("words over the audible agent interrupt once they pass minWords and minDurationMs, then become the turn", () => {
  const { turns, events, state } = setup({ audible: true });
  turns.onStt(FakeStt.interim("wait"), 100);
  expect(events).toEqual([]);
  state.speechMs = 400;
  turns.onStt(FakeStt.interim("wait, actually"), 300);
  expect(events).toEqual([{ type: "interruption", detectedAt: 300 }]);
  state.audible = false;
  turns.onStt(FakeStt.final("wait, actually I need Thursday"), 900);
  expect(events.at(-1)).toMatchObject({ type: "turn-ended", text: "wait, actually I need Thursday" });
});

test("a VAD frame while the caller speaks over the agent decides the interruption without waiting for words", () => {
  const { turns, events, state } = setup({ audible: true });
  // Three words, but too short so far: not yet.
  turns.onStt(quick("interim", "hold on please"), 100);
  expect(events).toEqual([]);
  state.speechMs = 320;
  turns.onFrame(140, true);
  expect(events).toEqual([
    { type: "speech-started", at: 140 },
    { type: "interruption", detectedAt: 140 },
  ]);
  // Once interrupting, further frames decide nothing more.
  turns.onFrame(160, true);
  expect(events).toHaveLength(2);
});

test("a back-channel over the agent is neither an interruption nor a turn", () => {
  const { turns, events, state } = setup({ audible: true });
  state.speechMs = 800;
  turns.onStt(FakeStt.final("uh-huh okay"), 500);
  state.audible = false;
  turns.onStt({ type: "utterance-end", lastWordEnd: 1 }, 1_500);
  expect(events).toEqual([]);
});

test("the agent's own words recognized back (echo) do not interrupt it", () => {
  const { turns, events, state } = setup({ audible: true, agentSentence: () => "we open at nine on weekdays" });
  state.speechMs = 900;
  turns.onStt(FakeStt.final("open at nine on weekdays"), 500);
  expect(events).toEqual([]);
});

test("over-speech that was not an interruption is an answer when the agent has finished by the end of it", () => {
  const { turns, events, state } = setup({ audible: true });
  state.speechMs = 100;
  turns.onStt(quick("final", "Thursday works", false), 500);
  expect(events).toEqual([]);
  state.audible = false;
  turns.onStt({ type: "utterance-end", lastWordEnd: 1 }, 1_500);
  expect(events).toMatchObject([{ type: "turn-ended", text: "Thursday works" }]);
});

test("a handoff's thresholds apply from then on", () => {
  const { turns, events, state } = setup({ audible: true });
  turns.setPolicy(BargeInPolicySchema.parse({ minWords: 1, minDurationMs: 0 }));
  state.speechMs = 0;
  turns.onStt(FakeStt.interim("stop"), 50);
  expect(events).toEqual([{ type: "interruption", detectedAt: 50 }]);
});

test("Flux's start of turn brings the caller's first words over the agent: they count before any update follows", () => {
  const { turns, events, state } = setup({ audible: true });
  turns.onFrame(1_000, true);
  const started = (text: string): SttEvent => ({ type: "turn-started", turnIndex: 0, text, timestamp: 1 });
  // A back-channel's start of turn: words heard, none of the caller's own.
  turns.onStt(started("Uh-huh."), 1_300);
  expect(turns.wordsOverAgent()).toEqual({ heard: 2, meaningful: 0 });
  turns.onStt(FakeStt.final("Uh-huh."), 1_500);
  // "Sorry, …": one word of their own, not yet enough to interrupt (a barge-in pause holds on it).
  turns.onFrame(2_000, true);
  turns.onStt(started("Sorry,"), 2_400);
  expect(turns.wordsOverAgent()).toEqual({ heard: 1, meaningful: 1 });
  expect(events.some((e) => e.type === "interruption")).toBe(false);
  // Its update then carries on from it, and the words pass the thresholds.
  state.speechMs = 600;
  turns.onStt(FakeStt.interim("Sorry, wait, actually"), 2_700);
  expect(events.at(-1)).toEqual({ type: "interruption", detectedAt: 2_700 });
});

test("Nova-3: the eager end starts on the interim words when Finalize is sent, not on its answer; words it does not bear out are dropped", () => {
  let finalizes = 0;
  const session = {
    turnDetection: "endpointing" as const,
    finalize: () => void finalizes++,
    configure: async () => null,
  };
  const events: UserTurnEvent[] = [];
  const state = { lastVoicedAt: Number.NEGATIVE_INFINITY };
  const turns = new UserTurns(
    BargeInPolicySchema.parse({}),
    {
      agentAudible: () => false,
      agentSentence: () => "",
      vadSpeechMs: () => 0,
      lastVoicedAt: () => state.lastVoicedAt,
      session: () => session,
    },
    (e) => events.push(e),
    { turnTaking: TurnTakingSchema.parse({}), language: "en" },
  );
  const finalized = (text: string): SttEvent => ({
    type: "final",
    text,
    words: words(text),
    speechFinal: false,
    fromFinalize: true,
    confidence: 0.98,
  });
  const speak = (from: number, to: number) => {
    for (let t = from; t <= to; t += 20) {
      state.lastVoicedAt = t;
      turns.onFrame(t, true);
    }
  };
  const quiet = (from: number, to: number) => {
    for (let t = from; t <= to; t += 20) turns.onFrame(t, t - state.lastVoicedAt < 200);
  };
  speak(0, 1_000);
  turns.onStt(FakeStt.interim("What are your opening hours on Saturday?"), 900);
  quiet(1_020, 1_160);
  // 150 ms of silence: Finalize goes out, and the speculation starts on the words already heard.
  expect(finalizes).toBe(1);
  expect(events.at(-1)).toEqual({
    type: "eager-end",
    text: "What are your opening hours on Saturday?",
    speechEndAt: 1_020,
  });
  turns.onStt(finalized("What are your opening hours on Saturday?"), 1_300);
  quiet(1_180, 1_320);
  expect(events.filter((e) => e.type === "resumed")).toEqual([]);
  expect(events.at(-1)).toMatchObject({ type: "turn-ended", text: "What are your opening hours on Saturday?" });

  // Next turn: the interim reads finished, the finalized words do not (the caller was mid-phrase).
  events.length = 0;
  speak(3_000, 4_000);
  turns.onStt(FakeStt.interim("I'd like to book"), 3_900);
  quiet(4_020, 4_160);
  expect(events.at(-1)).toMatchObject({ type: "eager-end", text: "I'd like to book" });
  turns.onStt(finalized("I'd like to book a"), 4_300);
  expect(events.at(-1)).toEqual({ type: "resumed", at: 4_300 });
});
