// The media node's SIGTERM drain, through the real signal to a real `npm run media-node` process (not by calling
// drain()): it stops taking calls at once, the live call goes on being answered, at the deadline the caller hears
// the goodbye and the stream closes with 1001, and the process exits 0 saying what it did. A call that ends
// during the drain lets the process go at once.
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { type MediaNodeTarget, startMediaNodeTarget } from "../../../bench/lib/stack.ts";
import { type BedrockEmulator, startBedrockEmulator } from "../../../emulators/bedrock/index.ts";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixtureIndex, SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";

let dg: DeepgramEmulator;
let br: BedrockEmulator;
let target: MediaNodeTarget | undefined;

beforeAll(async () => {
  [dg, br] = await Promise.all([
    startDeepgramEmulator({ port: 0, profile: "instant" }),
    startBedrockEmulator({ port: 0, profile: "instant" }),
  ]);
});
afterEach(async () => {
  await target?.stop();
  target = undefined;
});
afterAll(async () => {
  await Promise.all([dg?.close(), br?.close()]);
});

async function startNode(drainDeadlineMs: number): Promise<MediaNodeTarget> {
  target = await startMediaNodeTarget({
    emulators: { deepgramUrl: dg.url, bedrockUrl: br.url },
    cpu: null,
    drainDeadlineMs,
  });
  return target;
}

async function connectCaller(node: MediaNodeTarget, callId: string, lines: string[]): Promise<SimulatedCaller> {
  const index = await loadFixtureIndex();
  dg.setScript(
    callId,
    lines.map((name) => index.fixtures.find((f) => f.name === name)?.text ?? name),
  );
  const caller = await SimulatedCaller.connect({
    streamUrl: node.streamUrl,
    customParameters: await node.callParameters(callId),
    replyTimeoutMs: 10_000,
  });
  await caller.waitForGreeting(10_000);
  return caller;
}

/** The HTTP answer to a WebSocket upgrade that is refused. */
function refusedUpgrade(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => {
      ws.close();
      reject(new Error("a new call was accepted while draining"));
    });
    ws.on("error", () => {});
  });
}

async function readyzWhenDraining(url: string): Promise<number> {
  const deadline = Date.now() + 2_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await fetch(`${url}/readyz`)).status;
    if (status === 503) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return status;
}

test("SIGTERM: no new calls, the live call is still answered, then a goodbye and 1001 at the deadline, exit 0", async () => {
  // Long enough for the agent's whole answer (the bench agent talks for about 10 s) to come before the deadline.
  const node = await startNode(25_000);
  const caller = await connectCaller(node, `call-drain-${crypto.randomUUID()}`, ["opening-hours"]);

  process.kill(node.service.pid, "SIGTERM");
  expect(await readyzWhenDraining(node.service.url)).toBe(503);
  expect((await fetch(`${node.service.url}/healthz`)).status).toBe(200);
  expect(await refusedUpgrade(node.streamUrl)).toEqual({
    status: 503,
    body: "media node is draining; place the call on another node\n",
  });

  // The caller goes on talking during the drain and is answered.
  const turn = await caller.say("opening-hours");
  expect(turn.timedOut).toBe(false);
  expect(turn.agentAudioMs).toBeGreaterThan(0);
  const heardBeforeGoodbye = caller.report().agentAudioReceivedMs;
  expect(caller.isClosed).toBe(false);

  await caller.closedPromise();
  const report = caller.report();
  expect(report.closeCode).toBe(1001);
  expect(report.endedBy).toBe("server");
  expect(report.agentAudioReceivedMs).toBeGreaterThan(heardBeforeGoodbye); // the goodbye

  expect(await node.service.exited).toEqual({ code: 0, signal: null });
  expect(node.service.stdoutTail().join("\n")).toMatch(/media node drained: 0 finished, 1 ended at the deadline/);
}, 90_000);

test("SIGTERM with a live call that then hangs up: the process exits as soon as the call ends", async () => {
  const node = await startNode(60_000);
  const caller = await connectCaller(node, `call-drain-${crypto.randomUUID()}`, []);
  process.kill(node.service.pid, "SIGTERM");
  expect(await readyzWhenDraining(node.service.url)).toBe(503);

  const hungUpAt = Date.now();
  await caller.hangUp();
  expect(await node.service.exited).toEqual({ code: 0, signal: null });
  // Far from the 60 s deadline: the drain ended with the last call.
  expect(Date.now() - hungUpAt).toBeLessThan(15_000);
  expect(node.service.stdoutTail().join("\n")).toMatch(/media node drained: 1 finished, 0 ended at the deadline/);
}, 90_000);
