// Out-of-process callers script the emulator over HTTP, and the standalone entry point starts, reports and stops.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CALLER_SCRIPT,
  type DeepgramEmulator,
  startDeepgramEmulator,
} from "../../../emulators/deepgram/index.ts";
import { mulawSilence, openListen, openSpeak, sdk, sendFrames, speechMulaw } from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0 });
});
afterAll(async () => {
  await emulator.close();
});

describe("Deepgram emulator: control endpoint", () => {
  it("PUT /__emulator/scripts/:tag scripts what a stream with that tag hears, and GET shows what is left", async () => {
    const put = await fetch(`${emulator.url}/__emulator/scripts/call%2042`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ lines: ["Do you deliver on Sundays?", "Bye now."] }),
    });
    expect(put.status).toBe(200);
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, {
      model: "nova-3",
      encoding: "mulaw",
      sample_rate: 8000,
      punctuate: "true",
      endpointing: 300,
      tag: "call 42",
    });
    await sendFrames(socket, Buffer.concat([await speechMulaw(dg, "Do you deliver on Sundays?"), mulawSilence(1)]));
    await rec.waitFor(() => rec.results().some((r) => r.speech_final), 5000, "final");
    expect(rec.results().find((r) => r.speech_final)?.channel.alternatives[0]?.transcript).toBe(
      "Do you deliver on Sundays?",
    );
    const left = (await (await fetch(`${emulator.url}/__emulator/scripts/call%2042`)).json()) as {
      remaining: string[];
    };
    expect(left.remaining).toEqual(["Bye now."]);
    socket.close();
  });

  it("refuses a script body that is not {lines: string[]}", async () => {
    for (const body of ["not json", JSON.stringify({ lines: "one line" }), JSON.stringify({ lines: [""] })]) {
      const res = await fetch(`${emulator.url}/__emulator/scripts/x`, { method: "PUT", body });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { err_code: string }).err_code).toBe("INVALID_REQUEST_BODY");
    }
  });

  it("GET /__emulator/health reports profile, voice, open connections and event-loop lag", async () => {
    const { socket } = await openSpeak(sdk(emulator.url), {
      model: "aura-2-thalia-en",
      encoding: "mulaw",
      sample_rate: "8000",
    });
    const res = await fetch(`${emulator.url}/__emulator/health`);
    socket.close();
    expect(res.status).toBe(200);
    const health = (await res.json()) as {
      ok: boolean;
      profile: string;
      voice: string;
      connections: { listen: number; speak: number };
      eventLoop: { p99Ms: number };
    };
    expect(health.ok).toBe(true);
    expect(health.profile).toBe("instant");
    expect(["espeak-ng", "synthetic"]).toContain(health.voice);
    expect(health.connections.speak).toBe(1);
    expect(health.eventLoop.p99Ms).toBeGreaterThanOrEqual(0);
  });

  it("exports a default caller script of short, distinct lines including short ones", () => {
    expect(DEFAULT_CALLER_SCRIPT.length).toBeGreaterThanOrEqual(6);
    expect(DEFAULT_CALLER_SCRIPT.length).toBeLessThanOrEqual(10);
    expect(new Set(DEFAULT_CALLER_SCRIPT).size).toBe(DEFAULT_CALLER_SCRIPT.length);
    expect(DEFAULT_CALLER_SCRIPT.some((l) => l.split(" ").length === 1)).toBe(true);
  });

  it("refuses to bind anywhere but loopback", async () => {
    await expect(startDeepgramEmulator({ host: "0.0.0.0", port: 0 })).rejects.toThrow(/loopback/);
  });
});

describe("Deepgram emulator: standalone main", () => {
  it("prints its URL, serves, and exits cleanly on SIGTERM", async () => {
    const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
    const child = spawn(tsx, ["emulators/deepgram/main.ts"], {
      env: { ...process.env, DEEPGRAM_EMULATOR_PORT: "0", EMULATOR_PROFILE: "realistic" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
      });
      const health = (await (await fetch(`${url}/__emulator/health`)).json()) as { profile: string };
      expect(health.profile).toBe("realistic");
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
