// The emulator's Flux (/v2/listen) through the official SDK's listen.v2: turns come from the audio it hears, with the
// event order, sequence IDs and timings §8.4 of the protocol notes requires.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { synthesizeSpeech } from "../../../emulators/twilio-caller/speech.ts";
import {
  type FluxSocket,
  mulawSilence,
  openFlux,
  type Recorder,
  sdk,
  sendFluxFrames,
  type TurnInfoMsg,
  turnEvents,
} from "./support/deepgram-sdk.ts";

/** A raw handshake, to read the status and dg-error the SDK hides. */
function handshake(url: string): Promise<{ status: number; dgError: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { Authorization: "Token test-key" } });
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, dgError: String(res.headers["dg-error"] ?? "") });
    });
    ws.on("open", () => {
      resolve({ status: 101, dgError: "" });
      ws.close();
    });
    ws.on("error", (err) => {
      if (!String(err.message).includes("Unexpected server response")) reject(err);
    });
  });
}

let emulator: DeepgramEmulator;
const speech = new Map<string, Buffer>();

/** Trimmed espeak-ng speech: the audio ends where the voice ends, so "end of speech" is known to the frame. */
async function say(text: string): Promise<Buffer> {
  let audio = speech.get(text);
  if (!audio) {
    audio = Buffer.from(await synthesizeSpeech(text));
    speech.set(text, audio);
  }
  return audio;
}

const seconds = (audio: Buffer): number => audio.length / 8000;
const events = (rec: Recorder) =>
  turnEvents(rec)
    .filter((t) => t.event !== "Update")
    .map((t) => `${t.event}:${t.transcript}`);

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ host: "127.0.0.1", port: 0, profile: "realistic" });
});
afterAll(async () => {
  await emulator.close();
});

async function stream(tag: string, lines: string[], args: Record<string, unknown> = {}) {
  emulator.setScript(tag, lines);
  return openFlux(sdk(emulator.url), { tag, ...args });
}

async function finish(socket: FluxSocket): Promise<void> {
  socket.close();
}

describe("Deepgram emulator: Flux turns", () => {
  it("sends Connected, StartOfTurn, Updates every 0.25 s, EagerEndOfTurn 150 ms and EndOfTurn 350 ms after the speech", async () => {
    const line = "I need to move my delivery to Friday, please.";
    const { socket, rec } = await stream("flux-basic", [line], { eager_eot_threshold: 0.5 });
    const lead = mulawSilence(0.5);
    const voice = await say(line);
    await sendFluxFrames(socket, Buffer.concat([lead, voice, mulawSilence(1.2)]));
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "EndOfTurn");

    // Every server message counts in sequence_id, from 0 at Connected.
    expect(rec.messages[0]?.msg.type).toBe("Connected");
    expect(rec.messages.map((m) => m.msg.sequence_id)).toEqual(rec.messages.map((_, i) => i));
    expect(events(rec)).toEqual(["StartOfTurn:I", `EagerEndOfTurn:${line}`, `EndOfTurn:${line}`]);
    const turns = turnEvents(rec);
    const eager = turns.find((t) => t.event === "EagerEndOfTurn") as TurnInfoMsg;
    const end = turns.find((t) => t.event === "EndOfTurn") as TurnInfoMsg;
    const speechEnd = seconds(lead) + seconds(voice);
    // Stream time, so the test can send faster than real time; one 10 ms frame of slack either way.
    expect(eager.audio_window_end - speechEnd).toBeGreaterThanOrEqual(0.14);
    expect(eager.audio_window_end - speechEnd).toBeLessThanOrEqual(0.17);
    expect(end.audio_window_end - speechEnd).toBeGreaterThanOrEqual(0.34);
    expect(end.audio_window_end - speechEnd).toBeLessThanOrEqual(0.37);
    expect(end.trigger).toBe("model");
    expect(end.end_of_turn_confidence).toBeGreaterThanOrEqual(0.7);
    expect(end.words.map((w) => w.word).join(" ")).toBe(line);
    expect(end.audio_window_start).toBeGreaterThan(0.4);
    expect(end.audio_window_start).toBeLessThan(0.6);

    const updates = turns.filter((t) => t.event === "Update");
    expect(updates.length).toBeGreaterThanOrEqual(Math.floor(seconds(voice) / 0.25) - 1);
    for (let i = 1; i < updates.length; i++) {
      const gap = (updates[i]?.audio_window_end ?? 0) - (updates[i - 1]?.audio_window_end ?? 0);
      expect(gap).toBeCloseTo(0.25, 2);
    }
    // Words grow through the Updates, never shrink, while the caller speaks.
    const lengths = updates.map((u) => u.words.length);
    expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);
    await finish(socket);
  });

  it("numbers turns: turn_index goes up after each EndOfTurn", async () => {
    const { socket, rec } = await stream("flux-index", ["Hello there.", "Yes please."], { eager_eot_threshold: 0.5 });
    await sendFluxFrames(
      socket,
      Buffer.concat([
        mulawSilence(0.3),
        await say("Hello there."),
        mulawSilence(0.8),
        await say("Yes please."),
        mulawSilence(0.8),
      ]),
    );
    await rec.waitFor(() => turnEvents(rec).filter((t) => t.event === "EndOfTurn").length === 2, 10_000, "two turns");
    const ends = turnEvents(rec).filter((t) => t.event === "EndOfTurn");
    expect(ends.map((t) => [t.turn_index, t.transcript])).toEqual([
      [0, "Hello there."],
      [1, "Yes please."],
    ]);
    for (const t of turnEvents(rec)) {
      if (t.event === "StartOfTurn" || t.event === "EagerEndOfTurn") {
        expect(t.turn_index).toBe(t.transcript.startsWith("Hello") ? 0 : 1);
      }
    }
    await finish(socket);
  });

  it("takes a short pause after a finished sentence as eager, then resumed, and ends the turn on the new words", async () => {
    const first = "I need to reschedule.";
    const second = "To Friday, please.";
    const { socket, rec } = await stream("flux-resume", [first, second], { eager_eot_threshold: 0.5 });
    // 250 ms: past the eager delay (150), short of the end-of-turn delay (350).
    await sendFluxFrames(
      socket,
      Buffer.concat([mulawSilence(0.3), await say(first), mulawSilence(0.25), await say(second), mulawSilence(1)]),
    );
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "EndOfTurn");
    expect(events(rec)).toEqual([
      "StartOfTurn:I",
      `EagerEndOfTurn:${first}`,
      `TurnResumed:${first}`,
      `EagerEndOfTurn:${first} ${second}`,
      `EndOfTurn:${first} ${second}`,
    ]);
    // One turn throughout.
    expect(new Set(turnEvents(rec).map((t) => t.turn_index))).toEqual(new Set([0]));
    await finish(socket);
  });

  it("never ends the turn at a `…` pause: eager, then resumed when the caller goes on", async () => {
    const line = "My order number is … four eight two one three.";
    const { socket, rec } = await stream("flux-ellipsis", [line], { eager_eot_threshold: 0.5 });
    // A 1.5 s pause: far past the end-of-turn delay, short of eot_timeout_ms (5000 by default).
    await sendFluxFrames(
      socket,
      Buffer.concat([
        mulawSilence(0.3),
        await say("My order number is"),
        mulawSilence(1.5),
        await say("four eight two one three."),
        mulawSilence(1),
      ]),
    );
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "EndOfTurn");
    expect(events(rec)).toEqual([
      "StartOfTurn:My",
      "EagerEndOfTurn:My order number is",
      "TurnResumed:My order number is",
      "EagerEndOfTurn:My order number is four eight two one three.",
      "EndOfTurn:My order number is four eight two one three.",
    ]);
    await finish(socket);
  });

  it("ends a turn paused at `…` once the silence passes eot_timeout_ms, with trigger timeout", async () => {
    const { socket, rec } = await stream("flux-timeout", ["My order number is … four eight two one three."], {
      eager_eot_threshold: 0.5,
      eot_timeout_ms: 1000,
    });
    const lead = mulawSilence(0.3);
    const part = await say("My order number is");
    await sendFluxFrames(socket, Buffer.concat([lead, part, mulawSilence(1.5)]));
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "EndOfTurn");
    const end = turnEvents(rec).find((t) => t.event === "EndOfTurn") as TurnInfoMsg;
    expect(end.trigger).toBe("timeout");
    expect(end.transcript).toBe("My order number is");
    expect(end.audio_window_end - seconds(lead) - seconds(part)).toBeCloseTo(1.0, 1);
    await finish(socket);
  });

  it("sends no EagerEndOfTurn or TurnResumed unless eager_eot_threshold is set", async () => {
    const { socket, rec } = await stream("flux-no-eager", ["My order number is … four eight two one three."]);
    await sendFluxFrames(
      socket,
      Buffer.concat([
        mulawSilence(0.3),
        await say("My order number is"),
        mulawSilence(0.8),
        await say("four eight two one three."),
        mulawSilence(1),
      ]),
    );
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "EndOfTurn");
    expect(events(rec)).toEqual(["StartOfTurn:My", "EndOfTurn:My order number is four eight two one three."]);
    await finish(socket);
  });

  it("Configure mid-stream: a raised eot_threshold waits longer, is echoed, and a bad one is refused without harm", async () => {
    const line = "Thursday would work.";
    const { socket, rec } = await stream("flux-configure", [line, line], { eager_eot_threshold: 0.5 });
    const voice = await say(line);
    await sendFluxFrames(socket, Buffer.concat([mulawSilence(0.3), voice, mulawSilence(1.2)]));
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 10_000, "first EndOfTurn");
    const firstEnd = turnEvents(rec).find((t) => t.event === "EndOfTurn") as TurnInfoMsg;

    socket.sendConfigure({ type: "Configure", thresholds: { eot_threshold: 0.9, eot_timeout_ms: 8000 } });
    await rec.waitFor(() => rec.ofType("ConfigureSuccess").length === 1, 5_000, "ConfigureSuccess");
    expect(rec.ofType<{ thresholds: unknown }>("ConfigureSuccess")[0]?.thresholds).toEqual({
      eager_eot_threshold: 0.5,
      eot_threshold: 0.9,
      eot_timeout_ms: 8000,
    });
    // eager above eot: refused, and the stream goes on with what was in force.
    socket.sendConfigure({ type: "Configure", thresholds: { eager_eot_threshold: 0.8, eot_threshold: 0.6 } });
    await rec.waitFor(() => rec.ofType("ConfigureFailure").length === 1, 5_000, "ConfigureFailure");

    const before = rec.messages.length;
    const start = firstEnd.audio_window_end + 0.3 + 0.3;
    await sendFluxFrames(socket, Buffer.concat([mulawSilence(0.3), voice, mulawSilence(1.5)]));
    await rec.waitFor(
      () => turnEvents(rec).filter((t) => t.event === "EndOfTurn").length === 2,
      10_000,
      "second EndOfTurn",
    );
    const second = turnEvents(rec).filter((t) => t.event === "EndOfTurn")[1] as TurnInfoMsg;
    const firstLag = firstEnd.audio_window_end - (0.3 + seconds(voice));
    const secondLag = second.audio_window_end - (start - 0.3 + seconds(voice));
    expect(firstLag).toBeLessThan(0.4);
    // At 0.9 the confidence curve needs 750 ms of silence instead of 350.
    expect(secondLag).toBeGreaterThan(0.7);
    expect(second.end_of_turn_confidence).toBeGreaterThanOrEqual(0.9);
    expect(rec.messages.length).toBeGreaterThan(before);
    expect(rec.close).toBeNull();
    await finish(socket);
  });

  it("ForceEndTurn ends the turn at once with trigger manual and the words said so far", async () => {
    const line = "I would like to hear about your premium plan and its price.";
    const { socket, rec } = await stream("flux-force", [line], { eager_eot_threshold: 0.5 });
    const voice = await say(line);
    await sendFluxFrames(socket, Buffer.concat([mulawSilence(0.3), voice.subarray(0, Math.floor(voice.length * 0.5))]));
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "StartOfTurn"), 5_000, "StartOfTurn");
    socket.sendForceEndTurn({ type: "ForceEndTurn" });
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "EndOfTurn"), 5_000, "EndOfTurn");
    const end = turnEvents(rec).find((t) => t.event === "EndOfTurn") as TurnInfoMsg;
    expect(end.trigger).toBe("manual");
    expect(end.transcript.length).toBeGreaterThan(0);
    expect(line.startsWith(end.transcript)).toBe(true);
    expect(end.transcript).not.toBe(line);
    await finish(socket);
  });

  it("CloseStream sends the remaining Update, no EndOfTurn, and closes with 1000", async () => {
    const line = "Could you send me a confirmation by text message?";
    const { socket, rec } = await stream("flux-close", [line], { eager_eot_threshold: 0.5 });
    const voice = await say(line);
    await sendFluxFrames(socket, Buffer.concat([mulawSilence(0.3), voice.subarray(0, Math.floor(voice.length * 0.7))]));
    await rec.waitFor(() => turnEvents(rec).some((t) => t.event === "StartOfTurn"), 5_000, "StartOfTurn");
    socket.sendCloseStream({ type: "CloseStream" });
    await rec.waitFor(() => rec.close !== null, 5_000, "close");
    expect(rec.close?.code).toBe(1000);
    const turns = turnEvents(rec);
    expect(turns.some((t) => t.event === "EndOfTurn")).toBe(false);
    expect(turns.at(-1)?.event).toBe("Update");
    expect(turns.at(-1)?.transcript.length).toBeGreaterThan(0);
  });

  it("refuses bad query parameters at the handshake, as the service does", async () => {
    const cases: [string, RegExp][] = [
      ["model=flux-general-en&encoding=mulaw&sample_rate=8000&eager_eot_threshold=0.8&eot_threshold=0.6", /exceed/],
      ["model=flux-general-en&encoding=mulaw&sample_rate=8000&eot_timeout_ms=100", /eot_timeout_ms/],
      ["model=flux-general-en&encoding=mulaw&sample_rate=8000&eot_threshold=0.95", /eot_threshold/],
      ["model=flux-general-en&encoding=mulaw&sample_rate=8000&eager_eot_threshold=0.1", /eager_eot_threshold/],
      ["model=nova-3&encoding=mulaw&sample_rate=8000", /model/],
      ["encoding=mulaw&sample_rate=8000", /model/],
      ["model=flux-general-en&encoding=mulaw", /sample_rate/],
      ["model=flux-general-en&encoding=mulaw&sample_rate=8000&language_hint=es", /language_hint/],
    ];
    for (const [query, message] of cases) {
      const res = await handshake(`${emulator.url.replace(/^http/, "ws")}/v2/listen?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.dgError, query).toMatch(message);
    }
  });

  it("answers a v1 message (Finalize) with an Error and closes the stream", async () => {
    const { socket, rec } = await stream("flux-v1-message", []);
    socket.socket.send(JSON.stringify({ type: "Finalize" }));
    await rec.waitFor(() => rec.close !== null, 5_000, "close");
    const error = rec.ofType<{ code: string; sequence_id: number }>("Error")[0];
    expect(error?.code).toBe("UNPARSABLE_CLIENT_MESSAGE");
    expect(error?.sequence_id).toBe(1);
    expect(rec.close?.code).toBe(1008);
  });
});
