// deepgramFluxStt through the official SDK's listen.v2 against the Deepgram emulator's Flux, with real (espeak-ng)
// speech: the same behaviour every SttProvider owes the pipeline.
import { afterAll, beforeAll } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramFluxStt } from "../../../../media-nodes/src/providers/deepgram/flux-stt.ts";
import { frames, silence } from "./speech.ts";
import { runSttBehaviour } from "./stt.behaviour.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

runSttBehaviour(
  "deepgram flux (emulator)",
  async (tag) => {
    emulator.setScript(tag, ["Can you tell me where my order 48213 is?", "What are your opening hours on Saturday?"]);
    return deepgramFluxStt({ apiKey: "test-key", baseUrl: emulator.url });
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
      await new Promise((r) => setTimeout(r, 200));
    },
  },
);
