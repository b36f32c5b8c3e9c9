// The recorded caller fixtures, in the default script's order, through both recognisers: on Flux every line is one
// turn (a `…` pause is eager then resumed, never the end), on Nova-3 a `…` splits the line into finals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CALLER_SCRIPT,
  type DeepgramEmulator,
  startDeepgramEmulator,
} from "../../../emulators/deepgram/index.ts";
import { loadFixture, loadFixtureIndex } from "../../../emulators/twilio-caller/speech.ts";
import {
  mulawSilence,
  openFlux,
  openListen,
  type ResultsMsg,
  sdk,
  sendFluxFrames,
  sendFrames,
  turnEvents,
} from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ host: "127.0.0.1", port: 0, profile: "realistic" });
});
afterAll(async () => {
  await emulator.close();
});

const index = loadFixtureIndex();
const fixtureAudio = (name: string) => Buffer.from(loadFixture(name));

describe("mid-sentence pauses", () => {
  it("Flux hears each default-script fixture as one turn, eager 150 ms after it ends, and never ends one at a `…`", async () => {
    // No script for the tag: the stream hears the default caller script, as a benchmark call does.
    const { socket, rec } = await openFlux(sdk(emulator.url), { tag: "flux-default", eager_eot_threshold: 0.5 });
    const ends: number[] = [];
    const parts: Buffer[] = [mulawSilence(0.5)];
    let t = 0.5;
    for (const name of index.defaultScript) {
      const audio = fixtureAudio(name);
      parts.push(audio, mulawSilence(1.5));
      t += audio.length / 8000;
      ends.push(t);
      t += 1.5;
    }
    await sendFluxFrames(socket, Buffer.concat(parts));
    await rec.waitFor(
      () => turnEvents(rec).filter((e) => e.event === "EndOfTurn").length === DEFAULT_CALLER_SCRIPT.length,
      15_000,
      "one EndOfTurn per line",
    );
    const turns = turnEvents(rec);
    const endOfTurns = turns.filter((e) => e.event === "EndOfTurn");
    expect(endOfTurns.map((e) => e.transcript)).toEqual(
      DEFAULT_CALLER_SCRIPT.map((l) =>
        l.replace(/\s*…\s*/g, " ").replace("48213", "forty-eight thousand two hundred thirteen"),
      ),
    );
    for (const [i, end] of endOfTurns.entries()) {
      expect(end.turn_index).toBe(i);
      expect(end.trigger).toBe("model");
      // The last eager of the turn came 150 ms (±1 frame) after the line's audio ended.
      const eager = turns.filter((e) => e.event === "EagerEndOfTurn" && e.turn_index === i).at(-1);
      expect(eager?.transcript).toBe(end.transcript);
      expect((eager?.audio_window_end ?? 0) - (ends[i] ?? 0)).toBeGreaterThan(0.13);
      expect((eager?.audio_window_end ?? 0) - (ends[i] ?? 0)).toBeLessThan(0.18);
    }
    // Each `…` pause was eager and then resumed, within one turn.
    const paused = DEFAULT_CALLER_SCRIPT.flatMap((l, i) => (l.includes("…") ? [i] : []));
    expect(paused.length).toBe(2);
    for (const i of paused) {
      const pauses = (DEFAULT_CALLER_SCRIPT[i]?.match(/…/g) ?? []).length;
      expect(turns.filter((e) => e.event === "TurnResumed" && e.turn_index === i).length).toBe(pauses);
    }
    // Elsewhere a gap inside a line may be taken as eager and resumed (a wasted speculation, as with the service),
    // but no line is ever split across turns: that is the transcript check above.
    socket.close();
  });

  it("Nova-3 gives the unfinished first part of a `…` line its own final, then the rest", async () => {
    emulator.setScript("nova-pause", ["My order number is … four eight two one three."]);
    const { socket, rec } = await openListen(sdk(emulator.url), {
      model: "nova-3",
      encoding: "mulaw",
      sample_rate: 8000,
      interim_results: "true",
      endpointing: 300,
      utterance_end_ms: 1000,
      punctuate: "true",
      smart_format: "true",
      tag: "nova-pause",
    });
    await sendFrames(socket, Buffer.concat([mulawSilence(0.4), fixtureAudio("pause-order-number"), mulawSilence(1.5)]));
    await rec.waitFor(
      () => rec.results().filter((r) => r.is_final && r.speech_final).length === 2,
      10_000,
      "two speech finals",
    );
    const finals = rec
      .results()
      .filter((r: ResultsMsg) => r.is_final && (r.channel.alternatives[0]?.transcript ?? "") !== "")
      .map((r) => r.channel.alternatives[0]?.transcript);
    expect(finals).toEqual(["My order number is", "four eight two one three."]);
    // The interims never ran ahead into the second part before the pause.
    const firstFinalAt = rec.messages.findIndex(
      (m) => m.msg.type === "Results" && (m.msg as unknown as ResultsMsg).is_final,
    );
    for (const m of rec.messages.slice(0, firstFinalAt)) {
      if (m.msg.type !== "Results") continue;
      expect((m.msg as unknown as ResultsMsg).channel.alternatives[0]?.transcript ?? "").not.toMatch(/four/);
    }
    socket.close();
  });
});
