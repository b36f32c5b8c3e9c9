// Standalone Bedrock emulator: `npx tsx emulators/bedrock/main.ts`.
// Port from BEDROCK_EMULATOR_PORT (default 8092), latency from EMULATOR_PROFILE (instant | realistic).
import { exitWithParent } from "../parent-watch.ts";
import { startBedrockEmulator } from "./index.ts";

const emulator = await startBedrockEmulator();
console.log(`Bedrock emulator listening on ${emulator.url} (HTTP/2 cleartext and HTTP/1.1)`);

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  console.log(`Bedrock emulator: ${signal}, closing`);
  await emulator.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
exitWithParent();
