// The agent's voice fails to open, or its socket dies mid-sentence: ttsWithFallback reopens with the
// fallback voice and re-speaks what was not yet confirmed sent, so the caller hears the sentence out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramTts } from "../../../../media-nodes/src/providers/deepgram/tts.ts";
import { FakeTts } from "../../../../media-nodes/src/providers/fake/index.ts";
import { ttsWithFallback } from "../../../../media-nodes/src/providers/fallback.ts";
import type { TtsEvent } from "../../../../media-nodes/src/providers/types.ts";
import { type CutProxy, startCutProxy } from "./cut-proxy.ts";
import { waitFor } from "./stt.behaviour.ts";
import { ttsOptions } from "./tts.behaviour.ts";

const FALLBACK = "aura-2-andromeda-en";
const audioAfter = (events: TtsEvent[], from: number) =>
  events.slice(from).reduce((n, e) => n + (e.type === "audio" ? e.audio.byteLength : 0), 0);

describe("ttsWithFallback (fake vendor)", () => {
  it("opens the fallback voice when the agent's voice is unavailable", async () => {
    const vendor = new FakeTts({ failVoices: [ttsOptions.voice] });
    const switches: string[] = [];
    const tts = ttsWithFallback(vendor, {
      fallbackVoice: FALLBACK,
      onFallback: (f) => switches.push(`${f.fromVoice}→${f.toVoice}`),
    });
    const events: TtsEvent[] = [];
    const session = await tts.open(ttsOptions, (e) => events.push(e));
    session.speak("Hello there.");
    session.flush();
    await waitFor(() => events.find((e) => e.type === "flushed"));
    expect(vendor.sessions.map((s) => s.options.voice)).toEqual([FALLBACK]);
    expect(switches).toEqual([`${ttsOptions.voice}→${FALLBACK}`]);
    await session.close();
  });

  it("re-speaks the unconfirmed text on the fallback voice when the session dies mid-speech", async () => {
    const vendor = new FakeTts({ firstByteMs: 30 });
    const tts = ttsWithFallback(vendor, { fallbackVoice: FALLBACK });
    const events: TtsEvent[] = [];
    const session = await tts.open(ttsOptions, (e) => events.push(e));
    session.speak("First sentence.");
    session.flush();
    await waitFor(() => events.find((e) => e.type === "flushed"));
    session.speak("Second sentence, ");
    session.speak("still going.");
    session.flush();
    vendor.sessions[0]!.fail(1011, "vendor hiccup");
    await waitFor(() => events.filter((e) => e.type === "flushed")[1]);

    expect(vendor.sessions).toHaveLength(2);
    expect(vendor.sessions[1]!.options.voice).toBe(FALLBACK);
    // Only what wasn't confirmed is said again; the first sentence is not repeated.
    expect(vendor.sessions[1]!.texts).toEqual(["Second sentence, ", "still going."]);
    // Sequence IDs continue across the switch, so the pipeline's marks line up.
    expect(events.filter((e) => e.type === "flushed").map((e) => (e.type === "flushed" ? e.sequenceId : -1))).toEqual([
      0, 1,
    ]);
    expect(events.some((e) => e.type === "closed")).toBe(false);
    await session.close();
  });

  it("reports closed when every voice has failed", async () => {
    const vendor = new FakeTts();
    const tts = ttsWithFallback(vendor, { fallbackVoice: FALLBACK });
    const events: TtsEvent[] = [];
    await tts.open(ttsOptions, (e) => events.push(e));
    vendor.sessions[0]!.fail();
    await waitFor(() => vendor.sessions[1]);
    vendor.sessions[1]!.fail();
    const closed = await waitFor(() => events.find((e) => e.type === "closed"));
    expect(closed).toMatchObject({ type: "closed", code: 1011 });
  });

  it("synthesizes acknowledgements with the fallback voice when the main one fails", async () => {
    const vendor = new FakeTts({ failVoices: [ttsOptions.voice] });
    const tts = ttsWithFallback(vendor, { fallbackVoice: FALLBACK });
    const audio = await tts.synthesize("One moment.", ttsOptions);
    expect(audio.byteLength).toBeGreaterThan(0);
    expect(vendor.synthesized).toEqual([{ text: "One moment.", voice: FALLBACK }]);
  });
});

describe("ttsWithFallback (Deepgram emulator)", () => {
  let emulator: DeepgramEmulator;
  let proxy: CutProxy;
  beforeAll(async () => {
    emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
    proxy = await startCutProxy(emulator.url);
  });
  afterAll(async () => {
    await proxy.close();
    await emulator.close();
  });

  it("finishes the sentence on the fallback voice after the socket is cut mid-speech", async () => {
    const tts = ttsWithFallback(deepgramTts({ apiKey: "k", baseUrl: proxy.url }), { fallbackVoice: FALLBACK });
    const events: TtsEvent[] = [];
    const session = await tts.open(ttsOptions, (e) => events.push(e));
    session.speak("Your order left our warehouse yesterday afternoon and should arrive by Friday at the latest.");
    session.flush();
    await waitFor(() => events.find((e) => e.type === "audio"), 8_000, "first audio");
    proxy.cut();
    const cutAt = events.length;
    const flushed = await waitFor(() => events.find((e) => e.type === "flushed"), 8_000, "flushed after failover");

    expect(flushed).toEqual({ type: "flushed", sequenceId: 0 });
    expect(audioAfter(events, cutAt)).toBeGreaterThan(8_000);
    expect(proxy.requestHeads).toHaveLength(2);
    expect(proxy.requestHeads[1]).toContain(`model=${FALLBACK}`);
    expect(events.some((e) => e.type === "closed")).toBe(false);
    await session.close();
  });

  it("opens the fallback voice when Deepgram refuses the configured one", async () => {
    const tts = ttsWithFallback(deepgramTts({ apiKey: "k", baseUrl: emulator.url }), { fallbackVoice: FALLBACK });
    const events: TtsEvent[] = [];
    const session = await tts.open({ ...ttsOptions, voice: "no such voice" }, (e) => events.push(e));
    session.speak("Hello.");
    session.flush();
    await waitFor(() => events.find((e) => e.type === "flushed"), 8_000, "flushed");
    expect(audioAfter(events, 0)).toBeGreaterThan(1_000);
    await session.close();
  });
});
