// SIGTERM drain: the node stops taking calls (upgrades refused with a reason, /readyz 503), lets live
// calls go on until the deadline, then ends the rest with a spoken goodbye.

import { afterEach, expect, test } from "vitest";
import WebSocket from "ws";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";
import { TwilioTestClient } from "./support/twilio-client.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

async function upgradeStatus(url: string): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => reject(new Error("upgrade accepted while draining")));
  });
}

test("draining refuses new calls, keeps live ones talking, and ends them with a goodbye at the deadline", async () => {
  h = await startHarness({ llm: [FakeLlm.say("We're open until six.")], tts: { bytesPerChar: 40 } });
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  // The goodbye is pre-synthesized at call start, so it plays even if TTS is struggling at shutdown.
  await until(() => h!.tts.synthesized.some((s) => s.text.startsWith("I'm sorry, I have to end")), "pre-synthesis");

  const drained = h.node.drain(1_500);
  const ready = await fetch(`${h.node.url}/readyz`);
  expect([ready.status, await ready.text()]).toEqual([503, "draining\n"]);
  expect((await fetch(`${h.node.url}/healthz`)).status).toBe(200);
  expect(await upgradeStatus(h.wsUrl())).toEqual({
    status: 503,
    body: "media node is draining; place the call on another node\n",
  });

  // The live call is still served while the node drains.
  h.stt.emit(FakeStt.final("How late are you open?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the turn during drain");
  const bytesBeforeGoodbye = caller.receivedBytes;

  const result = await drained;
  await caller.closed();
  expect(result.finished).toBe(0);
  expect(result.endedAtDeadline).toBe(1);
  expect(caller.receivedBytes).toBeGreaterThan(bytesBeforeGoodbye); // the goodbye was sent
  expect([caller.closeCode, caller.closeReason]).toEqual([1001, "media node shutting down"]);
  expect(h.sink.ofType("call.ended")[0]!.reason).toBe("drain-deadline");
});

test("a drain returns as soon as the last call finishes on its own", async () => {
  h = await startHarness();
  const caller = await TwilioTestClient.connect(h.wsUrl());
  caller.start(await h.token());
  await until(() => h!.stt.current !== undefined, "the call to start");
  const started = performance.now();
  const drained = h.node.drain(20_000);
  setTimeout(() => void caller.hangUp(), 200);
  const result = await drained;
  expect(result).toMatchObject({ finished: 1, endedAtDeadline: 0 });
  expect(performance.now() - started).toBeLessThan(10_000);
});
