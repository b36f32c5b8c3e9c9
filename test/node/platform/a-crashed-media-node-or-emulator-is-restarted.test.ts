// kill -9 of the media node or an emulator is a crash: `npm start` logs it, starts the process again after a
// short backoff, and the rest of the platform keeps serving; the next call goes through as if nothing happened.
// (A call live on the killed node is another matter: see docs/reliability.md.)
import { afterAll, beforeAll, expect, test } from "vitest";
import { placeDemoCall } from "../../../scripts/platform/demo-call.ts";
import { type Platform, startPlatform } from "../../../scripts/platform/platform.ts";
import { freePorts, isAlive, offlineEnv, tempDataDir } from "./support.ts";

let platform: Platform;
const log: string[] = [];

beforeAll(async () => {
  platform = await startPlatform({
    dataDir: tempDataDir(),
    ports: await freePorts(),
    env: offlineEnv(),
    pgliteDir: "memory://",
    log: (line) => log.push(line),
  });
}, 150_000);

afterAll(async () => {
  await platform?.stop();
}, 30_000);

async function killAndAwaitRestart(name: string): Promise<{ before: number; after: number }> {
  const child = platform.children.get(name);
  if (!child) throw new Error(`no child ${name}`);
  const before = child.current().pid;
  process.kill(before, "SIGKILL");
  const deadline = Date.now() + 60_000;
  while (child.restarts() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await child.whenReady();
  return { before, after: child.current().pid };
}

test("kill -9 of the media node and of the Deepgram emulator: both restarted and logged, and a call then works", async () => {
  let ended: unknown;
  void platform.childExited.then((e) => {
    ended = e;
  });

  const media = await killAndAwaitRestart("media-node");
  const deepgram = await killAndAwaitRestart("deepgram-emulator");
  for (const { before, after } of [media, deepgram]) {
    expect(after).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    expect(isAlive(after)).toBe(true);
  }
  expect(log.some((l) => /^media-node crashed \(signal SIGKILL\).*restarting in/.test(l))).toBe(true);
  expect(log.some((l) => /^media-node is back \(pid \d+/.test(l))).toBe(true);
  expect(log.some((l) => /^deepgram-emulator crashed \(signal SIGKILL\)/.test(l))).toBe(true);
  expect(ended).toBeUndefined();

  // The platform never stopped: a whole call through the edge, the restarted node and the restarted emulator.
  const call = await placeDemoCall({
    edgeUrl: platform.edgeUrl,
    apiKey: platform.tenant.apiKey,
    authToken: platform.twilioAuthToken,
    from: platform.demoCaller,
    to: platform.tenant.number,
    deepgramEmulatorUrl: platform.deepgramEmulatorUrl,
  });
  expect(call.report.errors).toEqual([]);
  expect(call.report.turns.length).toBe(3);
  expect(call.report.turns.every((t) => !t.timedOut && t.agentAudioMs > 0)).toBe(true);
  expect(call.statusCallback).toBe(200);
}, 240_000);
