import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { type FakeMediaNode, isVoiced, sleep, startFakeMediaNode, tone } from "./support/fake-media-node.ts";

let node: FakeMediaNode;
beforeAll(async () => {
  node = await startFakeMediaNode();
});
afterAll(() => node.close());

async function call() {
  const caller = await SimulatedCaller.connect({ streamUrl: node.url });
  const conn = await node.nextConnection();
  await conn.waitFor((r) => r.msg.event === "start");
  return { caller, conn };
}

const markEcho = (name: string) => (r: { msg: Record<string, unknown> }) =>
  r.msg.event === "mark" && (r.msg.mark as { name: string }).name === name;

describe("marks", () => {
  it("are echoed only once the audio queued before them has played, in real time", async () => {
    const { caller, conn } = await call();
    const sentAt = performance.now();
    // A burst far faster than real time: 1 s of audio, a mark, 400 ms more, another mark.
    conn.sendMedia(tone(1000));
    conn.sendMark("first");
    conn.sendMedia(tone(400));
    conn.sendMark("second");
    const first = await conn.waitFor(markEcho("first"));
    const second = await conn.waitFor(markEcho("second"));
    expect(first.at - sentAt).toBeGreaterThan(900);
    expect(first.at - sentAt).toBeLessThan(1700);
    expect(second.at - first.at).toBeGreaterThan(300);
    expect(second.at - first.at).toBeLessThan(900);
    expect(first.msg.streamSid).toBe(conn.streamSid);
    expect(Number(second.msg.sequenceNumber)).toBeGreaterThan(Number(first.msg.sequenceNumber));
    await caller.hangUp();
    expect(caller.report().marksEchoed).toBe(2);
  });

  it("with nothing queued before them come straight back", async () => {
    const { caller, conn } = await call();
    const sentAt = performance.now();
    conn.sendMark("idle");
    const echo = await conn.waitFor(markEcho("idle"));
    expect(echo.at - sentAt).toBeLessThan(300);
    await caller.hangUp();
  });
});

describe("clear", () => {
  it("drops the buffered audio at once and echoes every pending mark", async () => {
    const { caller, conn } = await call();
    conn.sendMedia(tone(3000));
    conn.sendMark("after-long-reply");
    conn.sendMedia(tone(500));
    conn.sendMark("later");
    await sleep(500);
    const clearedAt = performance.now();
    conn.sendClear();
    const a = await conn.waitFor(markEcho("after-long-reply"));
    const b = await conn.waitFor(markEcho("later"));
    expect(a.at - clearedAt).toBeLessThan(250);
    expect(b.at).toBeGreaterThanOrEqual(a.at);
    await caller.pause(400);
    await caller.hangUp();

    const report = caller.report();
    expect(report.clearsReceived).toBe(1);
    expect(report.marks.map((m) => [m.name, m.cleared])).toEqual([
      ["after-long-reply", true],
      ["later", true],
    ]);
    // What the caller heard: about 500 ms of the reply, then nothing of the 3 s still queued.
    const frames: Uint8Array[] = [];
    const { agent } = caller.recording();
    for (let i = 0; i + 160 <= agent.length; i += 160) frames.push(agent.subarray(i, i + 160));
    const heard = frames.filter(isVoiced).length * 20;
    expect(heard).toBeGreaterThan(300);
    expect(heard).toBeLessThan(1200);
    const lastVoiced = frames.map(isVoiced).lastIndexOf(true);
    expect(frames.length - 1 - lastVoiced).toBeGreaterThan(10);
  });

  it("leaves the caller ready to hear a new reply afterwards", async () => {
    const { caller, conn } = await call();
    conn.sendMedia(tone(2000));
    await sleep(200);
    conn.sendClear();
    conn.sendMedia(tone(300));
    conn.sendMark("new-reply-done");
    const sentAt = performance.now();
    const echo = await conn.waitFor(markEcho("new-reply-done"));
    expect(echo.at - sentAt).toBeGreaterThan(250);
    expect(echo.at - sentAt).toBeLessThan(900);
    await caller.hangUp();
    expect(caller.report().marks[0]?.cleared).toBe(false);
  });
});
