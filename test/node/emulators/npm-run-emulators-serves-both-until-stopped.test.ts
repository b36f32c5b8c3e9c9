// `npm run emulators` is how a developer runs the platform's outside services by hand: it must print both URLs,
// serve the official SDKs at them, stop cleanly on Ctrl-C, and say in one line what to do when a port is taken.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer } from "node:net";
import { ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { afterEach, describe, expect, it } from "vitest";
import { SONNET, sdkClient } from "./bedrock-client.ts";
import { sdk, speechMulaw } from "./support/deepgram-sdk.ts";

const running: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL");
});

function start(env: Record<string, string>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ["--import", "tsx", "emulators/cli.ts"], { env: { ...process.env, ...env } });
  running.push(child);
  return child;
}

function output(child: ChildProcessWithoutNullStreams): { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  child.stdout.on("data", (c) => {
    out += c;
  });
  child.stderr.on("data", (c) => {
    err += c;
  });
  return { out: () => out, err: () => err };
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

describe("npm run emulators", () => {
  it("prints both URLs, serves the official SDKs there, and stops on Ctrl-C", async () => {
    const child = start({ DEEPGRAM_EMULATOR_PORT: "0", BEDROCK_EMULATOR_PORT: "0" });
    const io = output(child);
    await until(() => /Ctrl-C stops both/.test(io.out()), "the ready line");
    const deepgramUrl = /Deepgram\s+emulator\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1];
    const bedrockUrl = /Bedrock\s+emulator\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1];
    expect(deepgramUrl).toBeDefined();
    expect(bedrockUrl).toBeDefined();

    const audio = await speechMulaw(sdk(deepgramUrl as string), "Hello from the emulator.");
    expect(audio.length).toBeGreaterThan(8_000 * 0.5); // at least half a second of 8 kHz μ-law

    const reply = await sdkClient(bedrockUrl as string).send(
      new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "Hello?" }] }] }),
    );
    expect(reply.output?.message?.content?.[0]?.text?.length).toBeGreaterThan(0);

    const done = exited(child);
    child.kill("SIGINT");
    expect(await done).toBe(0);
    expect(io.out()).toMatch(/stopping emulators/);
  });

  it("says in one line which variable to set when a port is taken", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const child = start({ DEEPGRAM_EMULATOR_PORT: String(port), BEDROCK_EMULATOR_PORT: "0" });
      const io = output(child);
      expect(await exited(child)).toBe(1);
      const lines = io.err().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`port ${port} is already in use`);
      expect(lines[0]).toContain("DEEPGRAM_EMULATOR_PORT");
    } finally {
      busy.close();
    }
  });
});
