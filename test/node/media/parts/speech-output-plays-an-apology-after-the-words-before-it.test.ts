// SpeechOutput, constructed directly with a scripted TTS session: canned lines that fill a silence (acknowledgement,
// filler) play at once, but an apology for a failure after the model's first words waits for those words'
// audio, so the caller hears them first, whole, and then the apology (never the apology cutting in between).
import { expect, test } from "vitest";
import { OutboundPacer, type PacerLink } from "../../../../media-nodes/src/pipeline/pacer.ts";
import { type AudioSource, SpeechOutput } from "../../../../media-nodes/src/pipeline/speech-output.ts";
import type { TtsSession } from "../../../../media-nodes/src/providers/types.ts";

function setup() {
  const link: PacerLink = { sendFrame: () => "sent", sendMarks: () => {}, bufferedAmount: () => 0 };
  const pacer = new OutboundPacer({ link });
  const queued: { source: AudioSource; at: number }[] = [];
  const completed: string[] = [];
  const out = new SpeechOutput(
    pacer,
    {
      onEnqueue: (_turn, source, at) => queued.push({ source, at }),
      onTtsFirstByte: () => {},
      onTurnAudioComplete: (_turn, endMark) => completed.push(endMark),
    },
    () => performance.now(),
  );
  const said: string[] = [];
  const tts: TtsSession = {
    speak: (text) => said.push(text),
    flush: () => {},
    clear: () => {},
    close: async () => {},
  };
  out.tts = tts;
  return { out, pacer, queued, completed, said };
}

const speech = new Uint8Array(1_600).fill(0x10);
const apology = new Uint8Array(800).fill(0x20);

test("an apology after words still being synthesized is queued after their audio, before the turn's end", () => {
  const { out, pacer, queued, completed } = setup();
  out.speak(1, 0, "Your order shipped on Monday.", true);
  // The model's stream broke: the apology is ready at once (pre-synthesized), the words' audio is not.
  out.playCanned(1, "apology", apology, "t1apology0");
  out.endTurn(1);
  expect(queued).toEqual([]);
  out.onTtsEvent({ type: "audio", audio: speech });
  out.onTtsEvent({ type: "flushed", sequenceId: 0 });
  expect(queued).toEqual([
    { source: "speech", at: 0 },
    { source: "apology", at: speech.length },
  ]);
  expect(pacer.writtenBytes).toBe(speech.length + apology.length);
  expect(completed).toEqual(["t1end"]);
});

test("a filler plays at once, even while speech is being synthesized", () => {
  const { out, queued } = setup();
  out.speak(1, 0, "Let me see.", true);
  out.playCanned(1, "filler", apology, "t1filler1");
  expect(queued).toEqual([{ source: "filler", at: 0 }]);
});

test("if speech synthesis dies, a waiting apology still plays (it needs no TTS) and the turn still ends", () => {
  const { out, queued, completed } = setup();
  out.speak(1, 0, "Your order", true);
  out.playCanned(1, "apology", apology, "t1apology0");
  out.endTurn(1);
  out.onTtsEvent({ type: "closed", code: 1011, reason: "every voice failed" });
  expect(queued).toEqual([{ source: "apology", at: 0 }]);
  // Nothing waits for audio that will never come.
  expect(completed).toEqual(["t1end"]);
  // Later turns have no voice to speak with, and end at once.
  expect(out.speak(2, 0, "Anything else?", true)).toBeUndefined();
  out.endTurn(2);
  expect(completed).toEqual(["t1end", "t2end"]);
});
