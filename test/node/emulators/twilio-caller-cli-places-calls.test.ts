import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeMediaNode, startFakeMediaNode } from "./support/fake-media-node.ts";
import { toyAgent } from "./support/toy-agent.ts";

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "emulators/twilio-caller/cli.ts", ...args], {
      env: { ...process.env, TWILIO_AUTH_TOKEN: "", ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

let node: FakeMediaNode;
let edge: Server;
let edgeUrl: string;
beforeAll(async () => {
  node = await startFakeMediaNode((conn) => toyAgent(conn));
  edge = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/xml" });
    res.end("<Response><Say>Sorry, this number is not in service.</Say><Hangup/></Response>");
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}/voice`;
});
afterAll(async () => {
  await node.close();
  await new Promise<void>((resolve) => edge.close(() => resolve()));
});

describe("npm run call", () => {
  it("explains itself with --help", async () => {
    const { code, out } = await runCli(["--help"]);
    expect(code).toBe(0);
    expect(out).toMatch(/--stream-url/);
    expect(out).toMatch(/--voice-url/);
    expect(out).toMatch(/--concurrency/);
  });

  it("places concurrent calls speaking fixture lines and reports per-turn latency as JSON", async () => {
    const { code, out, err } = await runCli([
      "--stream-url",
      node.url,
      "--say",
      "okay",
      "--say",
      "Uh-huh.",
      "--no-greeting",
      "--reply-silence",
      "400",
      "--calls",
      "2",
      "--concurrency",
      "2",
      "--json",
    ]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result.summary).toMatchObject({ calls: 2, ok: 2, failed: 0 });
    expect(result.summary.firstAgentAudioMs.n).toBe(4);
    expect(result.summary.firstAgentAudioMs.p50).toBeGreaterThan(300);
    const texts = result.calls[0].report.turns.map((t: { text: string }) => t.text);
    expect(texts).toEqual(["Okay.", "Uh-huh."]);
  }, 30_000);

  it("prints a readable table for a person", async () => {
    const { code, out } = await runCli([
      "--stream-url",
      node.url,
      "--say",
      "okay",
      "--no-greeting",
      "--reply-silence",
      "400",
    ]);
    expect(code).toBe(0);
    expect(out).toMatch(/"Okay\."/);
    expect(out).toMatch(/calls\s+1 ok, 0 failed/);
    expect(out).toMatch(/first audio\s+p50 \d+ ms/);
  }, 30_000);

  it("says what the platform answered when it refuses the call", async () => {
    const { code, out } = await runCli(["--voice-url", edgeUrl, "--auth-token", "t", "--say", "okay"]);
    expect(code).toBe(1);
    expect(out).toMatch(/refused: "Sorry, this number is not in service\."/);
  }, 30_000);

  it("fails with one clear line when nothing is listening, or the options are wrong", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const refused = await runCli(["--stream-url", `ws://127.0.0.1:${port}/media`, "--say", "okay"]);
    expect(refused.code).toBe(1);
    expect(refused.err.trim()).toBe(
      `call: nothing is listening at ws://127.0.0.1:${port}/media; start the platform with npm start`,
    );

    const unsigned = await runCli(["--voice-url", edgeUrl]);
    expect(unsigned.code).toBe(2);
    expect(unsigned.err).toMatch(/--auth-token or set TWILIO_AUTH_TOKEN/);

    const bogus = await runCli(["--frobnicate"]);
    expect(bogus.code).toBe(2);
    expect(bogus.err.split("\n").filter(Boolean)).toHaveLength(1);
    expect(bogus.err).not.toMatch(/\n\s+at /);
  }, 30_000);
});
