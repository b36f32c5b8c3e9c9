// What every TtsProvider must do: audio for spoken text, Flushed after that text's audio, Clear that
// really stops the audio (barge-in), one-shot synthesis without a container header, and quiet after
// close. Run against the fake and against deepgramTts on the Deepgram emulator.
import { describe, expect, it } from "vitest";
import type { TtsEvent, TtsOptions, TtsProvider } from "../../../../media-nodes/src/providers/types.ts";
import { nonSilentShare } from "./speech.ts";
import { waitFor } from "./stt.behaviour.ts";

export const ttsOptions: TtsOptions = { voice: "aura-2-thalia-en", encoding: "mulaw", sampleRate: 8_000 };

const LONG =
  "Your order left our warehouse yesterday afternoon and should arrive by Friday. Is there anything else I can help you with today?";

function audioBytes(events: TtsEvent[], from = 0, to = events.length): number {
  let n = 0;
  for (const e of events.slice(from, to)) if (e.type === "audio") n += e.audio.byteLength;
  return n;
}

export function runTtsBehaviour(
  name: string,
  makeProvider: () => Promise<TtsProvider>,
  teardown?: () => Promise<void>,
): void {
  describe(`TtsProvider behaviour: ${name}`, () => {
    it("speaks text as non-silent μ-law and confirms the flush after the audio", async () => {
      const tts = await makeProvider();
      const events: TtsEvent[] = [];
      const session = await tts.open(ttsOptions, (e) => events.push(e));
      try {
        session.speak("Your order shipped yesterday.");
        session.flush();
        const flushed = await waitFor(() => events.find((e) => e.type === "flushed"), 8_000, "flushed");
        const at = events.indexOf(flushed);
        const bytes = audioBytes(events, 0, at);
        // At least half a second of audio for a five-word sentence.
        expect(bytes).toBeGreaterThan(4_000);
        const audio = Buffer.concat(events.slice(0, at).flatMap((e) => (e.type === "audio" ? [e.audio] : [])));
        expect(nonSilentShare(audio)).toBeGreaterThan(0.3);
        await new Promise((r) => setTimeout(r, 100));
        expect(audioBytes(events, at + 1)).toBe(0);
      } finally {
        await session.close();
      }
    });

    it("gives more audio for more text", async () => {
      const tts = await makeProvider();
      const short = await tts.synthesize("Hello.", ttsOptions);
      const long = await tts.synthesize(LONG, ttsOptions);
      expect(long.byteLength).toBeGreaterThan(short.byteLength * 3);
    });

    it("synthesize() returns raw μ-law with no container header", async () => {
      const tts = await makeProvider();
      const audio = await tts.synthesize("Let me check that for you.", ttsOptions);
      expect(audio.byteLength).toBeGreaterThan(4_000);
      expect(Buffer.from(audio.subarray(0, 4)).toString("latin1")).not.toBe("RIFF");
      expect(nonSilentShare(audio)).toBeGreaterThan(0.3);
    });

    it("clear() stops the audio: nothing from before it arrives after it is confirmed, and speech resumes after", async () => {
      const tts = await makeProvider();
      const events: TtsEvent[] = [];
      const session = await tts.open(ttsOptions, (e) => events.push(e));
      try {
        session.speak(LONG);
        session.flush();
        await waitFor(() => events.find((e) => e.type === "audio"), 8_000, "first audio");
        session.clear();
        const cleared = await waitFor(() => events.find((e) => e.type === "cleared"), 8_000, "cleared");
        const clearedAt = events.indexOf(cleared);
        await new Promise((r) => setTimeout(r, 300));
        expect(audioBytes(events, clearedAt + 1)).toBe(0);
        expect(events.slice(clearedAt).some((e) => e.type === "flushed")).toBe(false);
        // Less than the whole reply was sent: the clear cut it short.
        const whole = (await tts.synthesize(LONG, ttsOptions)).byteLength;
        expect(audioBytes(events, 0, clearedAt)).toBeLessThan(whole);

        session.speak("Sure, go ahead.");
        session.flush();
        await waitFor(
          () => events.slice(clearedAt + 1).find((e) => e.type === "flushed"),
          8_000,
          "flushed after clear",
        );
        expect(audioBytes(events, clearedAt + 1)).toBeGreaterThan(2_000);
      } finally {
        await session.close();
      }
    });

    it("reports closed on close() and stays quiet afterwards", async () => {
      const tts = await makeProvider();
      const events: TtsEvent[] = [];
      const session = await tts.open(ttsOptions, (e) => events.push(e));
      await session.close();
      await waitFor(() => events.find((e) => e.type === "closed"), 3_000, "closed");
      const n = events.length;
      session.speak("Nobody hears this.");
      session.flush();
      await new Promise((r) => setTimeout(r, 200));
      expect(events.length).toBe(n);
      await teardown?.();
    });
  });
}
