// deepgramStt through the official SDK against the Deepgram emulator, with real (espeak-ng) speech.
import { afterAll, beforeAll } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramStt } from "../../../../media-nodes/src/providers/deepgram/stt.ts";
import { frames, silence } from "./speech.ts";
import { runSttBehaviour } from "./stt.behaviour.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

runSttBehaviour(
  "deepgram (emulator)",
  async (tag) => {
    emulator.setScript(tag, ["Can you tell me where my order 48213 is?", "What are your opening hours on Saturday?"]);
    return deepgramStt({ apiKey: "test-key", baseUrl: emulator.url });
  },
  {
    async say(_provider, session, u) {
      for (const f of frames(silence(300))) session.sendAudio(f);
      for (const f of frames(u.audio)) session.sendAudio(f);
      for (const f of frames(silence(1_500))) session.sendAudio(f);
    },
    async startSaying(_provider, session, u) {
      for (const f of frames(silence(300))) session.sendAudio(f);
      for (const f of frames(u.audio.subarray(0, Math.floor(u.audio.length * 0.6)))) session.sendAudio(f);
      // Let the audio reach the recogniser before the test asks it to finalize.
      await new Promise((r) => setTimeout(r, 200));
    },
  },
);
