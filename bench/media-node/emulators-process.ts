// Benchmark helper process: the Deepgram and Bedrock emulators, on free loopback ports. Prints one JSON
// line with their URLs, then serves until killed. The synthetic voice keeps TTS cheap, so the figures
// measure the media node rather than espeak-ng.
import { startBedrockEmulator } from "../../emulators/bedrock/index.ts";
import { startDeepgramEmulator } from "../../emulators/deepgram/index.ts";

const [dg, br] = await Promise.all([
  startDeepgramEmulator({ port: 0, profile: "instant", voice: "synthetic" }),
  startBedrockEmulator({ port: 0, profile: "instant" }),
]);
process.stdout.write(`${JSON.stringify({ deepgram: dg.url, bedrock: br.url })}\n`);
const stop = () => void Promise.all([dg.close(), br.close()]).finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
