// The emulator's TTS (/v1/speak WebSocket and REST) through the official SDK: audible speech whose length follows
// the text, Flushed/Cleared sequence IDs, Clear cutting audio short, Warnings, and the REST errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { mulawLevelDb, mulawSilence, openListen, openSpeak, sdk, sendFrames } from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "instant" });
});
afterAll(async () => {
  await emulator.close();
});

// The SDK types the streaming sample_rate as a string and the REST one as a number.
const MULAW = { model: "aura-2-thalia-en", encoding: "mulaw", sample_rate: "8000" } as const;
const MULAW_REST = { model: "aura-2-thalia-en", encoding: "mulaw", sample_rate: 8000 } as const;
const LONG_TEXT =
  "Thank you for calling. Your appointment is confirmed for Tuesday at three in the afternoon. " +
  "Please arrive ten minutes early and bring your insurance card and a photo ID. If you need to reschedule, " +
  "call us at least one day ahead so we can offer the slot to another patient. Our office is on the second floor, " +
  "next to the pharmacy, and parking is free for the first two hours. Is there anything else I can help you with today?";

describe("Deepgram emulator: streaming TTS", () => {
  it("sends Metadata, then audible audio for each Flush followed by Flushed with counting sequence IDs", async () => {
    const { socket, rec } = await openSpeak(sdk(emulator.url), MULAW);
    await rec.waitFor(() => rec.ofType("Metadata").length === 1, 5000, "Metadata");
    const meta = rec.ofType<{ model_name: string; request_id: string }>("Metadata")[0];
    expect(meta?.model_name).toBe("aura-2-thalia-en");
    expect(meta?.request_id).toMatch(/^[0-9a-f-]{36}$/);

    socket.sendText({ type: "Speak", text: "Hello there." });
    socket.sendFlush({ type: "Flush" });
    await rec.waitFor(() => rec.ofType("Flushed").length === 1, 10_000, "first Flushed");
    const shortBytes = rec.audioBytes();

    socket.sendText({ type: "Speak", text: "Your table for four is booked for Friday evening at seven thirty. " });
    socket.sendText({ type: "Speak", text: "We look forward to seeing you." });
    socket.sendFlush({ type: "Flush" });
    await rec.waitFor(() => rec.ofType("Flushed").length === 2, 10_000, "second Flushed");
    const longBytes = rec.audioBytes() - shortBytes;

    expect(rec.ofType<{ sequence_id: number }>("Flushed").map((f) => f.sequence_id)).toEqual([0, 1]);
    // 8 kHz μ-law: one byte per sample. Short phrase well under 3 s, long sentence several seconds.
    expect(shortBytes).toBeGreaterThan(8000 * 0.4);
    expect(shortBytes).toBeLessThan(8000 * 3);
    expect(longBytes).toBeGreaterThan(shortBytes * 2.5);
    const audio = await rec.allAudio();
    expect(mulawLevelDb(audio)).toBeGreaterThan(-35);
    socket.close();
  });

  it("different voices produce different audio for the same text", async () => {
    const dg = sdk(emulator.url);
    const voices = ["aura-2-thalia-en", "aura-2-zeus-en"];
    const outputs: Buffer[] = [];
    for (const model of voices) {
      const { socket, rec } = await openSpeak(dg, { ...MULAW, model });
      socket.sendText({ type: "Speak", text: "Good morning, how can I help?" });
      socket.sendFlush({ type: "Flush" });
      await rec.waitFor(() => rec.ofType("Flushed").length === 1, 10_000, "Flushed");
      outputs.push(await rec.allAudio());
      socket.close();
    }
    expect(outputs[0]?.length).toBeGreaterThan(4000);
    expect(outputs[0]?.equals(outputs[1] ?? Buffer.alloc(0))).toBe(false);
  });

  it("Clear right after the first audio chunk stops the rest and answers Cleared", async () => {
    const dg = sdk(emulator.url);
    const full = Buffer.from(
      await (await dg.speak.v1.audio.generate({ text: LONG_TEXT, ...MULAW_REST, container: "none" })).arrayBuffer(),
    );
    const { socket, rec } = await openSpeak(dg, MULAW);
    socket.sendText({ type: "Speak", text: LONG_TEXT });
    socket.sendFlush({ type: "Flush" });
    await rec.waitFor(() => rec.audioChunks.length > 0, 10_000, "first audio chunk");
    socket.sendClear({ type: "Clear" });
    await rec.waitFor(() => rec.ofType("Cleared").length === 1, 5000, "Cleared");
    const atCleared = rec.audioBytes();
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.ofType<{ sequence_id: number }>("Cleared")[0]?.sequence_id).toBe(1);
    // No more audio after Cleared, and only a small part of the synthesis was sent.
    expect(rec.audioBytes()).toBe(atCleared);
    expect(full.length).toBeGreaterThan(8000 * 15);
    expect(atCleared).toBeLessThan(full.length / 5);
    expect(rec.ofType("Flushed")).toHaveLength(0);

    // The socket keeps working after a Clear.
    socket.sendText({ type: "Speak", text: "Sure." });
    socket.sendFlush({ type: "Flush" });
    await rec.waitFor(() => rec.ofType("Flushed").length === 1, 10_000, "Flushed after Clear");
    expect(rec.ofType<{ sequence_id: number }>("Flushed")[0]?.sequence_id).toBe(2);
    socket.close();
  });

  it("warns about unknown messages and over-long text without closing, and Close ends with 1000", async () => {
    const { socket, rec } = await openSpeak(sdk(emulator.url), MULAW);
    socket.sendText({ type: "Shout", text: "hi" } as unknown as { type: "Speak"; text: string });
    socket.sendText({ type: "Speak", text: "a".repeat(2500) });
    await rec.waitFor(() => rec.ofType("Warning").length === 2, 5000, "two Warnings");
    const warnings = rec.ofType<{ code: string; description: string }>("Warning");
    expect(warnings.map((w) => w.code)).toEqual(["UNKNOWN_MESSAGE_TYPE", "TEXT_LENGTH_EXCEEDED"]);
    expect(warnings[1]?.description).toMatch(/2000/);
    expect(rec.close).toBeNull();
    socket.sendClose({ type: "Close" });
    await rec.waitFor(() => rec.close !== null, 5000, "close");
    expect(rec.close?.code).toBe(1000);
    expect(rec.audioBytes()).toBe(0);
  });

  it("answers every Flush with Flushed in order, and warns once past 20 flushes a minute", async () => {
    const { socket, rec } = await openSpeak(sdk(emulator.url), MULAW);
    for (let i = 0; i < 21; i++) socket.sendFlush({ type: "Flush" });
    await rec.waitFor(() => rec.ofType("Flushed").length === 21, 5000, "21 Flushed");
    expect(rec.ofType<{ sequence_id: number }>("Flushed").map((f) => f.sequence_id)).toEqual([...Array(21).keys()]);
    expect(rec.ofType<{ code: string }>("Warning").map((w) => w.code)).toEqual(["FLUSH_LIMIT_EXCEEDED"]);
    socket.close();
  });

  it("rejects a bad token at the handshake and the SDK reports 401", async () => {
    const dg = sdk(emulator.url, "invalid");
    const socket = await dg.speak.v1.connect({ ...MULAW, reconnectAttempts: 0 });
    const errors: Error[] = [];
    socket.on("error", (e) => errors.push(e));
    socket.connect();
    await expect(socket.waitForOpen()).rejects.toBeDefined();
    expect(errors.map((e) => e.message).join(" ")).toMatch(/401/);
  });

  it("realistic profile holds the first byte back by about its time-to-first-byte", async () => {
    const slow = await startDeepgramEmulator({ port: 0, profile: "realistic" });
    try {
      const { socket, rec } = await openSpeak(sdk(slow.url), MULAW);
      // Warm the phrase cache so only the profile's delay remains.
      socket.sendText({ type: "Speak", text: "One moment please." });
      socket.sendFlush({ type: "Flush" });
      await rec.waitFor(() => rec.ofType("Flushed").length === 1, 10_000, "warm-up");
      const before = rec.audioChunks.length;
      const sentAt = performance.now();
      socket.sendText({ type: "Speak", text: "One moment please." });
      socket.sendFlush({ type: "Flush" });
      await rec.waitFor(() => rec.audioChunks.length > before, 10_000, "audio");
      expect(performance.now() - sentAt).toBeGreaterThanOrEqual(100);
      socket.close();
    } finally {
      await slow.close();
    }
  });
});

describe("Deepgram emulator: synthetic voice", () => {
  it("without espeak-ng still speaks audibly, with length following the text, and the listener hears it", async () => {
    const synthetic = await startDeepgramEmulator({ port: 0, voice: "synthetic" });
    try {
      const dg = sdk(synthetic.url);
      const generate = async (text: string) =>
        Buffer.from(await (await dg.speak.v1.audio.generate({ text, ...MULAW_REST, container: "none" })).arrayBuffer());
      const short = await generate("Yes.");
      const long = await generate("Your parcel will arrive on Thursday between nine and eleven in the morning.");
      expect(mulawLevelDb(long)).toBeGreaterThan(-35);
      expect(long.length).toBeGreaterThan(short.length * 4);
      expect((await generate("Yes.")).equals(short)).toBe(true);

      synthetic.setScript("synthetic", ["Thursday works for me."]);
      const { socket, rec } = await openListen(dg, {
        model: "nova-3",
        encoding: "mulaw",
        sample_rate: 8000,
        punctuate: "true",
        endpointing: 300,
        tag: "synthetic",
      });
      await sendFrames(socket, Buffer.concat([await generate("Thursday works for me."), mulawSilence(1)]));
      await rec.waitFor(() => rec.results().some((r) => r.speech_final), 5000, "final");
      expect(rec.results().find((r) => r.speech_final)?.channel.alternatives[0]?.transcript).toBe(
        "Thursday works for me.",
      );
      socket.close();
    } finally {
      await synthetic.close();
    }
  });
});

describe("Deepgram emulator: REST TTS", () => {
  it("returns WAV audio by default container and raw bytes with container=none", async () => {
    const dg = sdk(emulator.url);
    const wav = Buffer.from(
      await (
        await dg.speak.v1.audio.generate({
          text: "Thanks for waiting.",
          model: "aura-2-luna-en",
          encoding: "linear16",
          sample_rate: 24000,
        })
      ).arrayBuffer(),
    );
    expect(wav.toString("latin1", 0, 4)).toBe("RIFF");
    expect(wav.readUInt32LE(24)).toBe(24000);
    expect(wav.length - 44).toBeGreaterThan(24000 * 2 * 0.5);
    const raw = Buffer.from(
      await (
        await dg.speak.v1.audio.generate({ text: "Thanks for waiting.", ...MULAW_REST, container: "none" })
      ).arrayBuffer(),
    );
    expect(raw.toString("latin1", 0, 4)).not.toBe("RIFF");
    expect(mulawLevelDb(raw)).toBeGreaterThan(-35);
  });

  it("answers 401 with an INVALID_AUTH JSON body to a bad token", async () => {
    const dg = sdk(emulator.url, "invalid");
    const err = await dg.speak.v1.audio.generate({ text: "Hello", ...MULAW_REST }).then(
      () => null,
      (e: unknown) => e as { statusCode?: number; body?: unknown },
    );
    expect(err?.statusCode).toBe(401);
    expect(err?.body).toMatchObject({
      err_code: "INVALID_AUTH",
      err_msg: expect.any(String),
      request_id: expect.any(String),
    });
  });

  it("answers 401 when the Authorization header is missing", async () => {
    const res = await fetch(`${emulator.url}/v1/speak?model=aura-2-thalia-en&encoding=mulaw`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "Hello" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("dg-request-id")).toBeTruthy();
    expect(((await res.json()) as { err_code: string }).err_code).toBe("INVALID_AUTH");
  });

  it("answers 400 to a bad model, a bad rate for μ-law, and empty text", async () => {
    const dg = sdk(emulator.url);
    const statusOf = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: { statusCode?: number }) => e.statusCode,
      );
    expect(await statusOf(dg.speak.v1.audio.generate({ text: "Hi", model: "robot-9", encoding: "mulaw" }))).toBe(400);
    expect(await statusOf(dg.speak.v1.audio.generate({ text: "Hi", ...MULAW_REST, sample_rate: 24000 }))).toBe(400);
    expect(await statusOf(dg.speak.v1.audio.generate({ text: "  ", ...MULAW_REST }))).toBe(400);
  });
});
