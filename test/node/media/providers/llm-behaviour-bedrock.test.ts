// bedrockLlm through the official client (HTTP/2) against the Bedrock emulator.
import { afterAll, beforeAll } from "vitest";
import { type BedrockEmulator, startBedrockEmulator } from "../../../../emulators/bedrock/index.ts";
import { bedrockLlm } from "../../../../media-nodes/src/providers/bedrock/llm.ts";
import { runLlmBehaviour } from "./llm.behaviour.ts";

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

const emulatorCredentials = { accessKeyId: "test", secretAccessKey: "test" };

runLlmBehaviour(
  "bedrock (emulator)",
  async () => bedrockLlm({ region: "us-east-1", endpoint: emulator.url, credentials: emulatorCredentials }),
  "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
);
