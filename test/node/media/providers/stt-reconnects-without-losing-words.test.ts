// The STT socket drops mid-sentence (a cut TCP connection, no close frame). The session must reopen,
// resend the audio Deepgram had not yet finalized, and report the caller's sentence with timestamps on
// the same clock as before the drop.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramStt } from "../../../../media-nodes/src/providers/deepgram/stt.ts";
import type { SttEvent } from "../../../../media-nodes/src/providers/types.ts";
import { type CutProxy, startCutProxy } from "./cut-proxy.ts";
import { frames, loadUtterance, silence, wordsOf } from "./speech.ts";
import { sttOptions, waitFor } from "./stt.behaviour.ts";

let emulator: DeepgramEmulator;
let proxy: CutProxy;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
});
afterAll(() => emulator.close());

const order = loadUtterance("order-status");
const hours = loadUtterance("opening-hours");
const finals = (events: SttEvent[]) =>
  events.filter((e): e is Extract<SttEvent, { type: "final" }> => e.type === "final");

describe("deepgramStt reconnect", () => {
  beforeAll(async () => {
    proxy = await startCutProxy(emulator.url);
  });
  afterAll(() => proxy.close());

  it("reopens after a dropped socket and resends the unfinalized audio, so the sentence survives", async () => {
    const tag = "reconnect-resend";
    // A recogniser on the new connection hears the resent sentence again, so the script repeats it.
    emulator.setScript(tag, [order.text, hours.text, hours.text, hours.text]);
    const stt = deepgramStt({ apiKey: "k", baseUrl: proxy.url, reconnect: { attempts: 3, backoffMs: 50 } });
    const events: SttEvent[] = [];
    const session = await stt.open(sttOptions(tag), (e) => events.push(e));
    const send = (audio: Uint8Array) => {
      for (const f of frames(audio)) session.sendAudio(f);
    };

    send(silence(500));
    send(order.audio);
    send(silence(1_500));
    await waitFor(() => finals(events).find((f) => f.speechFinal), 8_000, "first sentence");
    const firstSentenceFinals = finals(events).length;

    // The second sentence starts here on the caller's clock.
    const secondStartsAt = (500 + order.audio.length / 8 + 1_500) / 1000;
    const cutAt = Math.floor(hours.audio.length * 0.6);
    send(hours.audio.subarray(0, cutAt));
    await new Promise((r) => setTimeout(r, 200));
    proxy.cut();
    // The caller keeps talking while the socket is down; nothing they say may be lost.
    send(hours.audio.subarray(cutAt));
    send(silence(1_500));

    const second = await waitFor(
      () =>
        finals(events)
          .slice(firstSentenceFinals)
          .find((f) => wordsOf(f.text).includes("saturday")),
      10_000,
      "second sentence after the reconnect",
    );
    await session.close();

    expect(proxy.connections).toBe(2);
    expect(events.some((e) => e.type === "closed")).toBe(false);
    expect(wordsOf(second.text)).toEqual(expect.arrayContaining(["opening", "hours", "saturday"]));
    // Words carry the caller's clock, and start where the sentence really started: the new connection
    // was given the audio from before the drop, not just what came after it.
    const firstWord = second.words[0]!;
    expect(Math.abs(firstWord.start - secondStartsAt)).toBeLessThan(0.5);
    // What was already final before the drop is not heard twice.
    const afterDrop = finals(events)
      .slice(firstSentenceFinals)
      .map((f) => f.text)
      .join(" ");
    expect(wordsOf(afterDrop)).not.toContain("48213");
  });

  it("gives up with a closed event when the vendor stays unreachable", async () => {
    const tag = "reconnect-give-up";
    const stt = deepgramStt({ apiKey: "k", baseUrl: proxy.url, reconnect: { attempts: 2, backoffMs: 20 } });
    const events: SttEvent[] = [];
    const session = await stt.open(sttOptions(tag), (e) => events.push(e));
    const before = proxy.connections;
    const refusedBefore = proxy.refused;
    proxy.refuse = true;
    try {
      proxy.cut();
      const closed = await waitFor(() => events.find((e) => e.type === "closed"), 8_000, "closed");
      expect(closed).toMatchObject({ type: "closed" });
      if (closed.type === "closed") expect(closed.reason).toMatch(/reconnect failed/);
      // Exactly the configured attempts, then it stopped trying.
      expect(proxy.refused - refusedBefore).toBe(2);
      expect(proxy.connections).toBe(before);
      // Once given up, audio is dropped quietly rather than throwing into the pipeline.
      expect(() => session.sendAudio(silence(20))).not.toThrow();
    } finally {
      proxy.refuse = false;
      await session.close();
    }
  });

  it("does not retry a stream the vendor cannot decode", async () => {
    const stt = deepgramStt({ apiKey: "k", baseUrl: proxy.url, reconnect: { attempts: 3, backoffMs: 20 } });
    const events: SttEvent[] = [];
    const session = await stt.open(sttOptions("garbage"), (e) => events.push(e));
    const before = proxy.connections;
    // Constant 0x80 is a full-scale DC offset in μ-law: not audio of anything.
    for (const f of frames(new Uint8Array(8_000 * 2).fill(0x80))) session.sendAudio(f);
    const closed = await waitFor(() => events.find((e) => e.type === "closed"), 8_000, "closed");
    if (closed.type !== "closed") throw new Error("unreachable");
    expect(closed.reason).toMatch(/^DATA-/);
    await new Promise((r) => setTimeout(r, 200));
    expect(proxy.connections).toBe(before);
    await session.close();
  });
});

describe("deepgramStt keep-alive", () => {
  it("keeps a quiet stream open (no audio for longer than the vendor's idle limit)", async () => {
    const strict = await startDeepgramEmulator({ port: 0, profile: "instant", silenceTimeoutMs: 600 });
    const watch = await startCutProxy(strict.url);
    try {
      const stt = deepgramStt({ apiKey: "k", baseUrl: watch.url, keepAliveMs: 200 });
      const events: SttEvent[] = [];
      const session = await stt.open(sttOptions("quiet"), (e) => events.push(e));
      // A web caller on mute: nothing to send for well past the idle limit.
      await new Promise((r) => setTimeout(r, 1_800));
      expect(events.some((e) => e.type === "closed")).toBe(false);
      expect(watch.connections).toBe(1);
      await session.close();
    } finally {
      await watch.close();
      await strict.close();
    }
  });
});
