// npm run emulators: the Deepgram (STT/TTS) and Bedrock (Claude ConverseStream) emulators on their local ports,
// for running the platform with no internet and no keys. Ctrl-C stops both.
import { startBedrockEmulator } from "./bedrock/index.ts";
import { startDeepgramEmulator } from "./deepgram/index.ts";
import { exitWithParent } from "./parent-watch.ts";

interface Running {
  url: string;
  close(): Promise<void>;
}

const services = [
  { name: "Deepgram", env: "DEEPGRAM_EMULATOR_PORT", defaultPort: 8091, start: () => startDeepgramEmulator() },
  { name: "Bedrock", env: "BEDROCK_EMULATOR_PORT", defaultPort: 8092, start: () => startBedrockEmulator() },
] as const;

function explain(name: string, env: string, defaultPort: number, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const port = process.env[env] ?? String(defaultPort);
  if (e.code === "EADDRINUSE") {
    return `${name} emulator: port ${port} is already in use (another npm run emulators or npm start?); set ${env} to use another port`;
  }
  if (e.code === "EACCES")
    return `${name} emulator: not allowed to listen on port ${port}; set ${env} to a port above 1024`;
  return `${name} emulator: ${(e.message ?? String(err)).split("\n").join(" ")}`;
}

async function main(): Promise<void> {
  const running: Running[] = [];
  const stopAll = async () => {
    await Promise.allSettled(running.splice(0).map((r) => r.close()));
  };
  for (const s of services) {
    try {
      const emulator = await s.start();
      running.push(emulator);
      process.stdout.write(`${s.name.padEnd(9)} emulator  ${emulator.url}\n`);
    } catch (err) {
      process.stderr.write(`${explain(s.name, s.env, s.defaultPort, err)}\n`);
      await stopAll();
      process.exit(1);
    }
  }
  process.stdout.write("Ctrl-C stops both.\n");
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write(`\n${signal}: stopping emulators\n`);
    stopAll().then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  exitWithParent();
}

void main();
