// AWS Bedrock Runtime emulator (Converse, ConverseStream) for tests, local runs and the benchmark.
// The unmodified @aws-sdk/client-bedrock-runtime talks to it with only endpoint, region and static
// credentials set. See docs/emulators-bedrock.md.
export type { CacheCheckpoint } from "./cache.ts";
export { type BedrockEmulatorControl, controlBedrockEmulator } from "./control.ts";
export { encodeEvent, encodeException, encodeMessage } from "./eventstream.ts";
export { LATENCY_PROFILES, type LatencyProfileName, type ModelLatency, type ModelLatencyTable } from "./latency.ts";
export { knownProfileIds } from "./models.ts";
export type { StopReason } from "./policy.ts";
export {
  type BedrockEmulator,
  type BedrockEmulatorOptions,
  type BedrockFault,
  type RecordedRequest,
  type ScriptedReply,
  startBedrockEmulator,
  type TokenUsage,
} from "./server.ts";
