// Standalone Deepgram emulator: `tsx emulators/deepgram/main.ts` (port from DEEPGRAM_EMULATOR_PORT, default 8091;
// latency profile from EMULATOR_PROFILE). Prints its URL; SIGINT/SIGTERM close it.
import { exitWithParent } from "../parent-watch.ts";
import { startDeepgramEmulator } from "./index.ts";

const emulator = await startDeepgramEmulator();
const health = (await (await fetch(`${emulator.url}/__emulator/health`)).json()) as { profile: string; voice: string };
console.log(`Deepgram emulator listening on ${emulator.url} (profile ${health.profile}, voice ${health.voice})`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.log(`Deepgram emulator: ${signal}, closing`);
  emulator.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
exitWithParent();
