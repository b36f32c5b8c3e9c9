// deepgramTts through the official SDK against the Deepgram emulator.
import { afterAll, beforeAll } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramTts } from "../../../../media-nodes/src/providers/deepgram/tts.ts";
import { runTtsBehaviour } from "./tts.behaviour.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

runTtsBehaviour("deepgram (emulator)", async () => deepgramTts({ apiKey: "test-key", baseUrl: emulator.url }));
