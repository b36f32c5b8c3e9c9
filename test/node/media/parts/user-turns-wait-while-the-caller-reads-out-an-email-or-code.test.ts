// User turns, constructed directly with a scripted recogniser session: a caller reading out an email address or a
// spelled code pauses between its pieces as long as at the end of a sentence. On Flux the node raises the turn
// thresholds live (Configure) as soon as the words show it, starts no speculative reply on the piece so far, and
// puts the agent's thresholds back once the turn ends. On Nova-3 the completeness hold keeps the turn open.
import { describe, expect, test } from "vitest";
import {
  ENDPOINT_SILENCE_MS,
  READING_THRESHOLDS,
  type UserTurnEvent,
  UserTurns,
} from "../../../../media-nodes/src/pipeline/user-turns.ts";
import type { SttEvent, TurnThresholds } from "../../../../media-nodes/src/providers/types.ts";
import { BargeInPolicySchema, TurnTakingSchema } from "../../../../shared/agent-config.ts";

const turnTaking = TurnTakingSchema.parse({});
const words = (text: string) =>
  text.split(" ").map((word, i) => ({ word, start: i * 0.3, end: i * 0.3 + 0.25, confidence: 0.98 }));
const interim = (text: string): SttEvent => ({ type: "interim", text, words: words(text) });
const final = (text: string, o: { speechFinal?: boolean; fromFinalize?: boolean } = {}): SttEvent => ({
  type: "final",
  text,
  words: words(text),
  speechFinal: o.speechFinal ?? false,
  fromFinalize: o.fromFinalize ?? false,
  confidence: 0.98,
});

function setup(turnDetection: "semantic" | "endpointing") {
  const events: UserTurnEvent[] = [];
  const configured: Partial<TurnThresholds>[] = [];
  const state = { lastVoicedAt: 0, finalized: 0 };
  const session = {
    turnDetection,
    finalize: () => {
      state.finalized += 1;
    },
    configure: async (t: Partial<TurnThresholds>) => {
      configured.push(t);
      return null;
    },
  };
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
    { turnTaking, language: "en" },
  );
  return { turns, events, configured, state };
}

const RAISED = {
  eotThreshold: READING_THRESHOLDS.eotThreshold,
  eagerEotThreshold: READING_THRESHOLDS.eagerEotThreshold,
};
const RESTORED = {
  eotThreshold: turnTaking.eotThreshold,
  eotTimeoutMs: turnTaking.eotTimeoutMs,
  eagerEotThreshold: turnTaking.eagerEotThreshold,
};

describe("Flux", () => {
  test.each([
    ["an email address", "My email is j dot smith", "My email is j dot smith at example dot com."],
    ["a spelled code", "My confirmation code is A B 7", "My confirmation code is A B 7 K 2 Q."],
  ])("%s: thresholds raised while it is read, no speculation on a piece of it, restored after", (_, part, whole) => {
    const { turns, events, configured } = setup("semantic");
    turns.onFrame(0, true);
    turns.onStt(interim(part), 1_000);
    expect(configured).toEqual([RAISED]);
    // Flux's eager end at the pause: the caller is mid-address, so nothing is prepared.
    turns.onStt({ type: "turn-eager-end", turnIndex: 0, text: part, words: words(part), confidence: 0.6 }, 1_200);
    expect(events.filter((e) => e.type === "eager-end")).toEqual([]);
    turns.onStt(interim(whole), 2_000);
    expect(configured).toHaveLength(1); // raised once per turn
    turns.onStt(final(whole, { speechFinal: true }), 2_400);
    expect(events.at(-1)).toMatchObject({ type: "turn-ended", text: whole });
    expect(configured).toEqual([RAISED, RESTORED]);
  });

  test("a turn with nothing read out leaves the thresholds alone, and its eager end starts a speculation", () => {
    const { turns, events, configured } = setup("semantic");
    turns.onFrame(0, true);
    turns.onStt(interim("My email hasn't changed"), 1_000);
    const text = "My email hasn't changed.";
    turns.onStt({ type: "turn-eager-end", turnIndex: 0, text, words: words(text), confidence: 0.6 }, 1_200);
    expect(events.at(-1)).toMatchObject({ type: "eager-end", text });
    expect(configured).toEqual([]);
  });
});

describe("Nova-3", () => {
  test.each([
    ["an email address", "My email is j dot smith", "at example dot com."],
    ["a spelled code", "The booking reference is X Y 4", "4 9 Z."],
  ])("%s: the pause after a piece is held, and the turn is the whole of it", (_, part, rest) => {
    const { turns, events, state } = setup("endpointing");
    turns.onFrame(0, true);
    state.lastVoicedAt = 1_000;
    turns.onFrame(1_020, false);
    turns.onFrame(1_160, false); // 150 ms of silence: finalize
    expect(state.finalized).toBe(1);
    turns.onStt(final(part, { fromFinalize: true }), 1_200);
    // Read as unfinished: no eager end, and well past the endpointing silence the turn is still open.
    turns.onFrame(1_000 + ENDPOINT_SILENCE_MS + 400, false);
    expect(events.filter((e) => e.type !== "speech-started")).toEqual([]);
    // The caller goes on with the rest, then stops.
    state.lastVoicedAt = 2_500;
    turns.onFrame(2_500, true);
    turns.onFrame(2_520, false);
    turns.onFrame(2_660, false);
    turns.onStt(final(rest, { fromFinalize: true }), 2_700);
    turns.onFrame(2_500 + ENDPOINT_SILENCE_MS + 20, false);
    expect(events.at(-1)).toMatchObject({ type: "turn-ended", text: `${part} ${rest}` });
    expect(events.filter((e) => e.type === "turn-ended")).toHaveLength(1);
  });
});
