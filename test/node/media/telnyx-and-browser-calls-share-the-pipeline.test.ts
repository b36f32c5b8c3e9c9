// Telnyx and browser calls are transport codecs in front of the same pipeline: admitted the same way,
// answered the same way, with their own wire formats (Telnyx snake_case and reordering; browser PCM16
// at 16 kHz over binary frames).

import { afterEach, expect, test } from "vitest";
import WebSocket from "ws";
import { SimulatedCaller } from "../../../emulators/twilio-caller/caller.ts";
import { FakeLlm, FakeStt } from "../../../media-nodes/src/providers/fake/index.ts";
import { TelnyxCodec } from "../../../media-nodes/src/transports/telnyx.ts";
import type { InboundEvent } from "../../../media-nodes/src/transports/types.ts";
import { type Harness, startHarness, until } from "./support/harness.ts";

let h: Harness | undefined;
afterEach(async () => h?.close());

function decodeAll(codec: TelnyxCodec, messages: unknown[]): InboundEvent[] {
  const out: InboundEvent[] = [];
  for (const m of messages)
    codec.decode(new TextEncoder().encode(JSON.stringify(m)).buffer as ArrayBuffer, false, (e) => out.push(e));
  return out;
}

test("Telnyx media frames arriving out of order reach speech recognition in order", () => {
  const frame = (chunk: number) => ({
    event: "media",
    sequence_number: String(chunk + 2),
    stream_id: "s1",
    media: {
      track: "inbound",
      chunk: String(chunk),
      timestamp: String(chunk * 20),
      payload: Buffer.alloc(160, chunk).toString("base64"),
    },
  });
  const events = decodeAll(new TelnyxCodec(), [frame(1), frame(3), frame(2), frame(4), frame(2)]);
  const order = events.map((e) => (e.type === "media" ? e.audio[0] : e.type === "invalid" ? e.reason : e.type));
  expect(order).toEqual([1, 2, 3, 4, "late-frame"]);
  const [refused] = decodeAll(new TelnyxCodec(), [
    { event: "start", stream_id: "s1", start: { media_format: { encoding: "PCMA", sample_rate: 8000 } } },
  ]);
  expect(refused).toMatchObject({ type: "fatal", code: 4415 });
});

test("a Telnyx call is admitted from its custom parameters and answered with echoed marks", async () => {
  h = await startHarness({ llm: [FakeLlm.say("We open at nine on Saturdays.")], tts: { bytesPerChar: 40 } });
  const caller = await SimulatedCaller.connect({
    streamUrl: h.wsUrl("/v1/telephony/telnyx"),
    provider: "telnyx",
    customParameters: { token: await h.token() },
    replyTimeoutMs: 10_000,
  });
  await until(() => h!.stt.current !== undefined, "the call to start");
  const stt = h.stt.current!;
  const turn = caller.say("opening-hours");
  // The fake recognizer "hears" the line once the fixture's audio (2 s) has arrived.
  await until(() => stt.audioBytes >= 16_000, "the caller's speech to reach STT", 10_000);
  stt.emit(FakeStt.final("What are your opening hours on Saturday?"));
  const report = await turn;
  expect(report.firstAgentAudioMs).not.toBeNull();
  expect(report.timedOut).toBe(false);
  await caller.hangUp();
  const call = caller.report();
  expect(call.marksEchoed).toBeGreaterThanOrEqual(2);
  await until(() => h!.sink.ofType("call.ended").length === 1, "the call to end");
  expect(h.sink.ofType("call.started")[0]!.transport).toBe("telnyx");
  expect(h.sink.ofType("turn")[0]!.assistantText).toBe("We open at nine on Saturdays.");
});

test("a browser call speaks 16 kHz PCM16 both ways and gets transcripts", async () => {
  h = await startHarness({ llm: [FakeLlm.say("Hi! How can I help?")], tts: { bytesPerChar: 40 } });
  const ws = new WebSocket(h.wsUrl("/v1/web"));
  const text: Record<string, unknown>[] = [];
  const binary: Buffer[] = [];
  ws.on("message", (data, isBinary) => {
    if (isBinary) binary.push(data as Buffer);
    else {
      const msg = JSON.parse(data.toString());
      text.push(msg);
      // The browser echoes marks once it has played the audio before them.
      if (msg.type === "mark") ws.send(JSON.stringify({ type: "mark", name: msg.name }));
    }
  });
  await new Promise((r) => ws.once("open", r));
  ws.send(JSON.stringify({ type: "start", token: await h.token() }));
  await until(() => text.some((m) => m.type === "ready"), "ready");
  // 200 ms of a 16 kHz tone, in 20 ms (640-byte) frames.
  for (let f = 0; f < 10; f++) {
    const pcm = new Int16Array(320);
    for (let i = 0; i < 320; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * 320 + i)) / 16000));
    ws.send(Buffer.from(pcm.buffer));
  }
  const stt = h.stt.current!;
  await until(() => stt.audio.length >= 10, "the audio to reach STT as μ-law");
  expect(stt.audio.slice(0, 10).every((chunk) => chunk.length === 160)).toBe(true);
  expect(stt.audio.slice(0, 10).some((chunk) => chunk.some((b) => b !== 0xff))).toBe(true);

  stt.emit(FakeStt.final("Hello?"));
  await until(() => h!.sink.ofType("turn").length === 1, "the reply to play out", 15_000);
  expect(binary.length).toBeGreaterThanOrEqual(4); // 760 bytes of μ-law → 5 frames of 20 ms
  expect(binary.every((b) => b.length === 640)).toBe(true);
  expect(text.filter((m) => m.type === "transcript")).toEqual([
    { type: "transcript", role: "user", text: "Hello?" },
    { type: "transcript", role: "assistant", text: "Hi! How can I help?" },
  ]);
  ws.send(JSON.stringify({ type: "stop" }));
  await until(() => h!.sink.ofType("call.ended").length === 1, "the call to end");
  expect(h.sink.ofType("call.ended")[0]!.reason).toBe("caller-hung-up");
  expect(text.at(-1)).toMatchObject({ type: "end" });
});
