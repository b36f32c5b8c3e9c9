// Turn detection on Nova-3 (end of turn by silence), constructed directly from scripted recognizer events and VAD
// verdicts: no socket, no provider. A caller who cuts the agent off must get an answer once they stop, even when
// caller audio the VAD calls voiced arrives after the recognizer's final (a breath, a jitter burst carrying the tail
// of the last word): such audio means "maybe they went on", and with no new words the turn must still end. The
// recognizer is scripted as Deepgram (and its emulator) behave: a Finalize is answered with a `from_finalize` final,
// empty when nothing new was said; no UtteranceEnd follows audio that held no words.
import { expect, test } from "vitest";
import { type UserTurnEvent, UserTurns } from "../../../../media-nodes/src/pipeline/user-turns.ts";
import type { SttEvent } from "../../../../media-nodes/src/providers/types.ts";
import { BargeInPolicySchema, TurnTakingSchema } from "../../../../shared/agent-config.ts";

const words = (text: string) =>
  text
    .split(" ")
    .filter(Boolean)
    .map((word, i) => ({ word, start: i * 0.3, end: i * 0.3 + 0.25, confidence: 0.98 }));

function final(text: string, opts: { speechFinal: boolean; fromFinalize: boolean }): SttEvent {
  return { type: "final", text, words: words(text), confidence: 0.98, ...opts };
}

/** The recognizer answers a Finalize this long after it is sent (Deepgram's final latency). */
const FINALIZE_ANSWER_MS = 80;

function nova3Call(agentTalking: boolean) {
  const events: UserTurnEvent[] = [];
  const state = { audible: agentTalking, lastVoicedAt: Number.NEGATIVE_INFINITY, speechMs: 0 };
  let finalizeAnswerAt: number | undefined;
  let finalizes = 0;
  const session = {
    turnDetection: "endpointing" as const,
    finalize: () => {
      finalizes += 1;
      finalizeAnswerAt = now + FINALIZE_ANSWER_MS;
    },
    configure: async () => null,
  };
  let now = 0;
  const turns = new UserTurns(
    BargeInPolicySchema.parse({}),
    {
      agentAudible: () => state.audible,
      agentSentence: () => "Your bike will be ready on Tuesday at noon, and the repair",
      vadSpeechMs: () => state.speechMs,
      lastVoicedAt: () => state.lastVoicedAt,
      session: () => session,
    },
    (e) => {
      events.push(e);
      // The call clears the agent's audio on an interruption: from then on it is not audible.
      if (e.type === "interruption") state.audible = false;
    },
    { turnTaking: TurnTakingSchema.parse({}), language: "en" },
  );
  /** Caller frames every 20 ms from `from` to `to`; voiced ones move the VAD's last voiced frame. */
  const frames = (from: number, to: number, voiced: boolean) => {
    for (let t = from; t <= to; t += 20) {
      now = t;
      if (voiced) {
        state.lastVoicedAt = t;
        state.speechMs += 20;
      } else state.speechMs = 0;
      turns.onFrame(t, voiced || t - state.lastVoicedAt < 200);
      if (finalizeAnswerAt !== undefined && t >= finalizeAnswerAt) {
        finalizeAnswerAt = undefined;
        turns.onStt(final("", { speechFinal: false, fromFinalize: true }), t);
      }
    }
  };
  const stt = (event: SttEvent, at: number) => {
    now = at;
    turns.onStt(event, at);
  };
  return { turns, events, frames, stt, finalizes: () => finalizes };
}

const WORDS = "Wait, actually I need it on Thursday instead.";

/** The caller speaks from 0 to 1.5 s, the recognizer's final comes at 1.6 s, then two late voiced frames, then silence. */
function speakThenLateAudio(call: ReturnType<typeof nova3Call>): void {
  call.frames(0, 600, true);
  call.stt({ type: "interim", text: "Wait, actually I need", words: words("Wait, actually I need") }, 600);
  call.frames(620, 1_500, true);
  call.frames(1_520, 1_580, false);
  call.stt(final(WORDS, { speechFinal: true, fromFinalize: false }), 1_600);
  // Two frames the VAD calls voiced, with no words in them (a breath; the tail of the last word, late).
  call.frames(1_620, 1_640, true);
  // Then silence: the caller waits for the answer.
  call.frames(1_660, 6_000, false);
}

test("the agent answers a caller who interrupted it, even when voiced audio arrives after the recognizer's final", () => {
  const call = nova3Call(true);
  speakThenLateAudio(call);
  // The caller's words passed the thresholds: the agent was cut off.
  expect(call.events.filter((e) => e.type === "interruption")).toHaveLength(1);

  const ended = call.events.filter((e) => e.type === "turn-ended");
  expect(ended).toMatchObject([{ type: "turn-ended", text: WORDS }]);
  // Answered about as soon as any Nova-3 turn: the recognizer is asked to confirm its words (a Finalize), then the
  // endpointing silence. Not seconds later, and not never.
  expect(call.finalizes()).toBe(1);
  expect((ended[0] as { sttFinalAt: number }).sttFinalAt - 1_640).toBeLessThan(800);
  // No speculative reply on the interruption's words: the turn ends on them directly.
  expect(call.events.some((e) => e.type === "eager-end")).toBe(false);
});

test("after a turn that interrupted nothing, the same late audio is a pause the turn survives (the recognizer is asked again)", () => {
  const call = nova3Call(false);
  speakThenLateAudio(call);
  expect(call.events.some((e) => e.type === "interruption")).toBe(false);
  const ended = call.events.filter((e) => e.type === "turn-ended");
  expect(ended).toMatchObject([{ type: "turn-ended", text: WORDS }]);
  expect((ended[0] as { sttFinalAt: number }).sttFinalAt - 1_640).toBeLessThan(800);
});
