// Both emulators in one process of their own, so neither the system under test nor the callers pay for
// them: `tsx bench/lib/emulators-process.ts`. EMULATOR_PROFILE (instant | realistic) sets their latency and
// BENCH_TTS_VOICE (auto | espeak-ng | synthetic) the Deepgram emulator's voice. Prints one line,
// `emulators {"deepgram":URL,"bedrock":URL}`, and serves until SIGTERM.
import { z } from "zod";
import { startBedrockEmulator } from "../../emulators/bedrock/index.ts";
import { startDeepgramEmulator } from "../../emulators/deepgram/index.ts";

const Env = z.object({
  EMULATOR_PROFILE: z.enum(["instant", "realistic"]).default("instant"),
  BENCH_TTS_VOICE: z.enum(["auto", "espeak-ng", "synthetic"]).default("auto"),
});
const env = Env.safeParse(process.env);
if (!env.success) {
  process.stderr.write(`emulators: ${z.prettifyError(env.error)}\n`);
  process.exit(2);
}
const { EMULATOR_PROFILE: profile, BENCH_TTS_VOICE: voice } = env.data;
const [deepgram, bedrock] = await Promise.all([
  startDeepgramEmulator({ port: 0, profile, voice }),
  startBedrockEmulator({ port: 0, profile }),
]);
process.stdout.write(`emulators ${JSON.stringify({ deepgram: deepgram.url, bedrock: bedrock.url })}\n`);
const stop = () => void Promise.all([deepgram.close(), bedrock.close()]).finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
