// Scripted fakes of the three providers, for unit tests of the pipeline.
export { FakeLlm, type FakeLlmOptions, type FakeLlmTurn } from "./llm.ts";
export { FakeStt, FakeSttSession } from "./stt.ts";
export { FakeTts, type FakeTtsOptions, FakeTtsSession, fakeSpeech } from "./tts.ts";
