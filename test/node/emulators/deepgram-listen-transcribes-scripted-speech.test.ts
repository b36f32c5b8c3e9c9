// Real speech into the emulator's /v1/listen through the official SDK comes back as the caller's scripted lines,
// with the message sequence a live Deepgram stream produces.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CALLER_SCRIPT,
  type DeepgramEmulator,
  splitPauses,
  startDeepgramEmulator,
} from "../../../emulators/deepgram/index.ts";
import {
  espeakMulaw,
  mulawSilence,
  openListen,
  type ResultsMsg,
  sdk,
  sendFrames,
  speechMulaw,
  trimTrailingSilence,
} from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ host: "127.0.0.1", port: 0, profile: "instant" });
});
afterAll(async () => {
  await emulator.close();
});

const LIVE_ARGS = {
  model: "nova-3",
  encoding: "mulaw",
  sample_rate: 8000,
  channels: 1,
  interim_results: "true",
  endpointing: 300,
  utterance_end_ms: 1000,
  vad_events: "true",
  smart_format: "true",
  punctuate: "true",
  language: "en-US",
  keyterm: ["Acme", "reschedule appointment"],
} as const;

const text = (r: ResultsMsg) => r.channel.alternatives[0]?.transcript ?? "";

describe("Deepgram emulator: live transcription", () => {
  it("hears an espeak-ng utterance as the scripted line: SpeechStarted, growing interims, speech_final, UtteranceEnd", async () => {
    const line = "I need to move my delivery to Friday, please.";
    emulator.setScript("call-espeak", [line]);
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, { ...LIVE_ARGS, tag: "call-espeak" });
    const speech = espeakMulaw(line);
    await sendFrames(socket, Buffer.concat([mulawSilence(0.5), speech, mulawSilence(1.6)]));
    await rec.waitFor(() => rec.ofType("UtteranceEnd").length > 0, 10_000, "UtteranceEnd");

    const types = rec.messages.map((m) => m.msg.type);
    const results = rec.results();
    const interims = results.filter((r) => !r.is_final);
    const final = results.find((r) => r.is_final && r.speech_final);
    expect(final, "a final with speech_final").toBeDefined();
    if (!final) return;

    expect(text(final)).toBe(line);
    // SpeechStarted comes first and points near where the speech begins (after 0.5 s of silence).
    expect(types[0]).toBe("SpeechStarted");
    const started = rec.ofType<{ timestamp: number; channel: number[] }>("SpeechStarted")[0];
    expect(started?.timestamp).toBeGreaterThan(0.4);
    expect(started?.timestamp).toBeLessThan(0.9);
    expect(started?.channel).toEqual([0, 1]);

    // Interims grow word by word and are all prefixes of the final transcript.
    expect(interims.length).toBeGreaterThanOrEqual(3);
    const interimWords = interims.map((r) => r.channel.alternatives[0]?.words.length ?? 0);
    expect([...interimWords].sort((a, b) => a - b)).toEqual(interimWords);
    for (const r of interims) expect(line.startsWith(text(r).replace(/[,.]$/, ""))).toBe(true);
    expect(types.indexOf("Results")).toBeGreaterThan(types.indexOf("SpeechStarted"));

    // Words are timed across the detected speech, in stream seconds, inside the result's window.
    const words = final.channel.alternatives[0]?.words ?? [];
    expect(words.map((w) => w.punctuated_word).join(" ")).toBe(line);
    expect(words[0]?.word).toBe("i");
    const speechEnd = 0.5 + speech.length / 8000;
    expect(words[0]?.start).toBeGreaterThan(0.4);
    expect(words[words.length - 1]?.end).toBeLessThanOrEqual(speechEnd + 0.1);
    expect(words[words.length - 1]?.end).toBeGreaterThan(speechEnd - 0.6);
    for (let i = 1; i < words.length; i++) expect(words[i]?.start).toBeGreaterThanOrEqual(words[i - 1]?.end ?? 0);
    expect(final.start).toBe(0);
    expect(final.start + final.duration).toBeGreaterThanOrEqual(words[words.length - 1]?.end ?? 0);
    expect(final.channel.alternatives[0]?.confidence).toBeGreaterThan(0.5);
    expect(final.channel_index).toEqual([0, 1]);
    expect(final.metadata.model_info.arch).toBe("nova-3");

    // UtteranceEnd follows the final and names the last word's end.
    const ue = rec.ofType<{ last_word_end: number }>("UtteranceEnd")[0];
    expect(types.lastIndexOf("UtteranceEnd")).toBeGreaterThan(
      rec.messages.findIndex((m) => m.msg === (final as unknown)),
    );
    expect(ue?.last_word_end).toBeCloseTo(words[words.length - 1]?.end ?? 0, 2);
    socket.close();
  });

  it("plays lines in order, then falls back to the default caller script, windows tiling the stream", async () => {
    emulator.setScript("call-order", ["Is the store open today?", "Perfect, see you soon."]);
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, { ...LIVE_ARGS, tag: "call-order" });
    for (const utterance of [
      "Is the store open today?",
      "Perfect, see you soon.",
      "Hello, I have a question about my bill.",
    ]) {
      await sendFrames(socket, Buffer.concat([await speechMulaw(dg, utterance), mulawSilence(1.5)]));
    }
    await rec.waitFor(
      () => rec.results().filter((r) => r.speech_final).length === 3 && rec.ofType("UtteranceEnd").length === 3,
      10_000,
      "three finals and utterance ends",
    );
    const finals = rec.results().filter((r) => r.is_final);
    expect(finals.filter((r) => r.speech_final).map(text)).toEqual([
      "Is the store open today?",
      "Perfect, see you soon.",
      "Hi, I'd like to book an appointment for next Tuesday.",
    ]);
    // Each final window starts where the previous one ended.
    for (let i = 1; i < finals.length; i++) {
      const prev = finals[i - 1] as ResultsMsg;
      expect(finals[i]?.start).toBeCloseTo(prev.start + prev.duration, 2);
    }
    expect(rec.ofType("SpeechStarted")).toHaveLength(3);
    expect(rec.ofType("UtteranceEnd")).toHaveLength(3);
    socket.close();
  });

  it("maps a short burst on an unscripted stream to a short default line", async () => {
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, {
      ...LIVE_ARGS,
      interim_results: "false",
      utterance_end_ms: undefined,
    });
    await sendFrames(socket, Buffer.concat([await speechMulaw(dg, "Uh-huh."), mulawSilence(1)]));
    await sendFrames(
      socket,
      Buffer.concat([await speechMulaw(dg, "Hi, I'd like to book an appointment."), mulawSilence(1)]),
    );
    await rec.waitFor(() => rec.results().filter((r) => r.speech_final).length === 2, 10_000, "two finals");
    const [first, second] = rec
      .results()
      .filter((r) => r.speech_final)
      .map(text);
    expect(first?.split(" ").length).toBe(1);
    expect(["Uh-huh.", "Okay."]).toContain(first);
    // The long default line was not used up by the backchannel.
    expect(second).toBe("Hi, I'd like to book an appointment for next Tuesday.");
    expect(rec.results().every((r) => r.is_final)).toBe(true);
    socket.close();
  });

  it("hears the recorded default-script fixtures as one line each: in order exactly, and short bursts as short lines", async () => {
    const index = JSON.parse(readFileSync("test/fixtures/speech/index.json", "utf8")) as {
      defaultScript: string[];
      fixtures: Array<{ name: string; file: string; durationMs: number }>;
    };
    const fixture = (name: string) => {
      const f = index.fixtures.find((x) => x.name === name);
      if (!f) throw new Error(`no fixture ${name}`);
      return { ...f, audio: readFileSync(`test/fixtures/speech/${f.file}`) };
    };
    const dg = sdk(emulator.url);
    const finalsFor = async (names: string[], parts = names.length) => {
      const { socket, rec } = await openListen(dg, {
        ...LIVE_ARGS,
        interim_results: "false",
        utterance_end_ms: undefined,
      });
      for (const name of names) await sendFrames(socket, Buffer.concat([fixture(name).audio, mulawSilence(1.2)]));
      await rec.waitFor(() => rec.results().filter((r) => r.speech_final).length >= parts, 10_000, "finals");
      await new Promise((r) => setTimeout(r, 100));
      socket.close();
      return rec.results().filter((r) => text(r).length > 0);
    };

    // A line that pauses mid-sentence (`…`) is heard as one final per part, each ended by the pause.
    const expected = DEFAULT_CALLER_SCRIPT.flatMap((l) => splitPauses(l));
    const inOrder = await finalsFor(index.defaultScript, expected.length);
    expect(inOrder.map(text)).toEqual(expected);
    expect(inOrder.every((r) => r.speech_final)).toBe(true);

    const whole = index.defaultScript.filter((_, i) => !DEFAULT_CALLER_SCRIPT[i]?.includes("…"));
    const reversed = [...whole].reverse();
    const heard = await finalsFor(reversed);
    expect(heard).toHaveLength(reversed.length);
    reversed.forEach((name, i) => {
      const words = text(heard[i] as ResultsMsg).split(" ").length;
      if (fixture(name).durationMs < 800) expect(words).toBe(1);
      else expect(words).toBeGreaterThan(3);
    });
  });

  it("Finalize flushes the speech heard so far as a final with from_finalize", async () => {
    emulator.setScript("call-finalize", ["Can I pay by card?"]);
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, { ...LIVE_ARGS, tag: "call-finalize" });
    // No trailing silence: endpointing cannot fire, only Finalize can finish the turn.
    await sendFrames(socket, trimTrailingSilence(await speechMulaw(dg, "Can I pay by card?")));
    await rec.waitFor(() => rec.results().length > 0, 5000, "an interim");
    expect(rec.results().some((r) => r.is_final)).toBe(false);
    socket.sendFinalize({ type: "Finalize" });
    await rec.waitFor(() => rec.results().some((r) => r.from_finalize), 5000, "from_finalize result");
    const final = rec.results().find((r) => r.from_finalize) as ResultsMsg;
    expect(final.is_final).toBe(true);
    expect(final.speech_final).toBe(false);
    expect(text(final)).toBe("Can I pay by card?");
    socket.close();
  });

  it("hears no words in silence or low noise, and CloseStream ends with Metadata then close 1000", async () => {
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, { ...LIVE_ARGS });
    // Low hiss around -60 dBFS: still silence to a speech recogniser.
    const noise = Buffer.alloc(8000 * 6);
    let seed = 7;
    for (let i = 0; i < noise.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      noise[i] = seed & 0x800 ? 0xf8 + (seed & 7) : 0x78 + (seed & 7);
    }
    await sendFrames(socket, noise);
    socket.sendCloseStream({ type: "CloseStream" });
    await rec.waitFor(() => rec.close !== null, 5000, "close");
    expect(rec.results().every((r) => r.channel.alternatives[0]?.words.length === 0)).toBe(true);
    expect(rec.ofType("SpeechStarted")).toHaveLength(0);
    const meta = rec.ofType<{ duration: number; channels: number; request_id: string; sha256: string }>("Metadata");
    expect(meta).toHaveLength(1);
    expect(meta[0]?.duration).toBeCloseTo(6, 1);
    expect(meta[0]?.channels).toBe(1);
    expect(meta[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.messages[rec.messages.length - 1]?.msg.type).toBe("Metadata");
    expect(rec.close?.code).toBe(1000);
  });

  it("on the realistic profile, paced in real time, finals trail the end of speech by endpointing plus ~150 ms", async () => {
    const realistic = await startDeepgramEmulator({ port: 0, profile: "realistic" });
    try {
      realistic.setScript("paced", ["Okay, sounds good."]);
      const dg = sdk(realistic.url);
      const { socket, rec } = await openListen(dg, { ...LIVE_ARGS, tag: "paced" });
      const speech = trimTrailingSilence(await speechMulaw(dg, "Okay, sounds good."));
      const started = performance.now();
      await sendFrames(socket, Buffer.concat([speech, mulawSilence(0.8)]), { realtime: true });
      await rec.waitFor(() => rec.results().some((r) => r.speech_final), 5000, "final");
      const interim = rec.messages.find((m) => m.msg.type === "Results" && !(m.msg as unknown as ResultsMsg).is_final);
      const final = rec.messages.find((m) => (m.msg as unknown as ResultsMsg).speech_final);
      const speechEndMs = (speech.length / 8000) * 1000;
      // Interims arrive while the caller is still speaking; the final only after endpointing + the profile delay.
      expect((interim?.at ?? Number.POSITIVE_INFINITY) - started).toBeLessThan(speechEndMs + 250);
      expect((final?.at ?? 0) - started).toBeGreaterThanOrEqual(speechEndMs + 300 + 150 - 40);
      socket.close();
    } finally {
      await realistic.close();
    }
  });

  it("without punctuate or smart_format returns lower-case words and spoken numbers", async () => {
    emulator.setScript("call-plain", ["My order is 48213, thanks."]);
    const dg = sdk(emulator.url);
    const { socket, rec } = await openListen(dg, {
      model: "nova-3",
      encoding: "linear16",
      sample_rate: 16000,
      tag: "call-plain",
      endpointing: 300,
    });
    const res = await dg.speak.v1.audio.generate({
      text: "My order is 48213, thanks.",
      model: "aura-2-zeus-en",
      encoding: "linear16",
      sample_rate: 16000,
      container: "none",
    });
    const pcm = Buffer.from(await res.arrayBuffer());
    const audio = Buffer.concat([pcm, Buffer.alloc(16000 * 2)]);
    for (let off = 0; off < audio.length; off += 640) socket.sendMedia(audio.subarray(off, off + 640));
    await rec.waitFor(() => rec.results().some((r) => r.speech_final), 5000, "final");
    const final = rec.results().find((r) => r.speech_final) as ResultsMsg;
    expect(text(final)).toBe("my order is forty-eight thousand two hundred thirteen thanks");
    expect(final.channel.alternatives[0]?.words.every((w) => w.punctuated_word === undefined)).toBe(true);
    socket.close();
  });
});
