// deepgramFluxStt against the emulator's Flux through the SDK's listen.v2: the turn events a speculative reply is
// built on (eager, resumed, ended), live threshold changes, ForceEndTurn, and what a dropped or stalled stream does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../../emulators/deepgram/index.ts";
import { deepgramFluxStt } from "../../../../media-nodes/src/providers/deepgram/flux-stt.ts";
import { deepgramRecognizers } from "../../../../media-nodes/src/providers/deepgram/recognizers.ts";
import { deepgramStt } from "../../../../media-nodes/src/providers/deepgram/stt.ts";
import type { SttEvent, SttSession } from "../../../../media-nodes/src/providers/types.ts";
import { frames, loadUtterance, silence } from "./speech.ts";
import { sttOptions, waitFor } from "./stt.behaviour.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ port: 0, profile: "realistic" });
});
afterAll(() => emulator.close());

const EAGER = { eagerEotThreshold: 0.5, eotThreshold: 0.7, eotTimeoutMs: 5_000 };
const hours = loadUtterance("opening-hours");
const order = loadUtterance("order-status");
const pauseLine = loadUtterance("pause-order-number");

function send(session: SttSession, audio: Uint8Array): void {
  for (const f of frames(audio)) session.sendAudio(f);
}

const turnEvents = (events: SttEvent[]) =>
  events.flatMap((e) =>
    e.type === "turn-started" || e.type === "turn-eager-end" || e.type === "turn-resumed" || e.type === "turn-ended"
      ? [`${e.type}#${e.turnIndex}${"text" in e && e.type !== "turn-started" ? `:${e.text}` : ""}`]
      : [],
  );

async function open(
  tag: string,
  lines: string[],
  turn = EAGER,
  extra: Parameters<typeof deepgramFluxStt>[0] = { apiKey: "k" },
) {
  emulator.setScript(tag, lines);
  const provider = deepgramFluxStt({ ...extra, apiKey: "k", baseUrl: emulator.url });
  const events: SttEvent[] = [];
  const session = await provider.open({ ...sttOptions(tag), turn }, (e) => events.push(e));
  return { session, events };
}

describe("deepgramFluxStt", () => {
  it("eager end then the turn's end with the same text, then a speechFinal final of it", async () => {
    const { session, events } = await open("p-eager", [hours.text]);
    try {
      expect(session.turnDetection).toBe("semantic");
      send(session, silence(300));
      send(session, hours.audio);
      send(session, silence(800));
      await waitFor(() => events.find((e) => e.type === "final"), 8_000, "final");
      expect(turnEvents(events)).toEqual([
        "turn-started#0",
        `turn-eager-end#0:${hours.text}`,
        `turn-ended#0:${hours.text}`,
      ]);
      const ended = events.find((e) => e.type === "turn-ended");
      if (ended?.type !== "turn-ended") throw new Error("unreachable");
      expect(ended.trigger).toBe("model");
      expect(ended.words.map((w) => w.word).join(" ")).toBe(hours.text);
      // Times are on the caller's clock: the turn began after the 300 ms of silence.
      expect(ended.words[0]?.start).toBeGreaterThanOrEqual(0.25);
      const final = events.find((e) => e.type === "final");
      expect(final).toMatchObject({ text: hours.text, speechFinal: true, fromFinalize: false });
      // speech-started comes with turn-started: the barge-in signal.
      expect(events.findIndex((e) => e.type === "speech-started")).toBeLessThan(
        events.findIndex((e) => e.type === "turn-eager-end"),
      );
    } finally {
      await session.close();
    }
  });

  it("a mid-sentence pause is eager then resumed, and the turn ends on the whole sentence", async () => {
    const { session, events } = await open("p-pause", [pauseLine.text]);
    try {
      send(session, silence(300));
      send(session, pauseLine.audio);
      send(session, silence(800));
      await waitFor(() => events.find((e) => e.type === "turn-ended"), 8_000, "turn-ended");
      expect(turnEvents(events)).toEqual([
        "turn-started#0",
        "turn-eager-end#0:My order number is",
        "turn-resumed#0:My order number is",
        "turn-eager-end#0:My order number is four eight two one three.",
        "turn-ended#0:My order number is four eight two one three.",
      ]);
      // One final, for the whole turn: the pause never produced a final of its own.
      expect(events.filter((e) => e.type === "final").map((e) => (e.type === "final" ? e.text : ""))).toEqual([
        "My order number is four eight two one three.",
      ]);
    } finally {
      await session.close();
    }
  });

  it("configure() raises the end-of-turn threshold live: the same sentence then waits longer for its end", async () => {
    const { session, events } = await open("p-configure", [hours.text, hours.text]);
    try {
      send(session, silence(300));
      send(session, hours.audio);
      send(session, silence(1_200));
      const first = await waitFor(() => events.find((e) => e.type === "turn-ended"), 8_000, "first turn");
      const inForce = await session.configure({ eotThreshold: 0.9 });
      expect(inForce).toEqual({ eagerEotThreshold: 0.5, eotThreshold: 0.9, eotTimeoutMs: 5_000 });
      // The eager threshold may not exceed the end-of-turn one: refused here, before anything is sent.
      await expect(session.configure({ eagerEotThreshold: 0.8, eotThreshold: 0.6 })).rejects.toThrow(/exceed/);

      send(session, hours.audio);
      send(session, silence(1_200));
      const second = await waitFor(() => events.filter((e) => e.type === "turn-ended")[1], 8_000, "second turn");
      if (first.type !== "turn-ended" || second.type !== "turn-ended") throw new Error("unreachable");
      const lastWordEnd = (e: typeof first) => e.words.at(-1)?.end ?? 0;
      expect(second.turnIndex).toBe(1);
      // The turn's audio window (and so its last word's time) reaches further past the speech at 0.9 than at 0.7.
      const firstWait = lastWordEnd(first) - (0.3 + hours.audio.length / 8000);
      const secondWait = lastWordEnd(second) - (0.3 + hours.audio.length / 8000 + 1.2 + hours.audio.length / 8000);
      expect(secondWait - firstWait).toBeGreaterThan(0.3);
      expect(second.confidence).toBeGreaterThanOrEqual(0.9);
    } finally {
      await session.close();
    }
  });

  it("finalize() ends the turn now (ForceEndTurn): turn-ended manual and a fromFinalize final", async () => {
    const { session, events } = await open("p-force", [order.text]);
    try {
      send(session, silence(300));
      send(session, order.audio.subarray(0, Math.floor(order.audio.length * 0.5)));
      await waitFor(() => events.find((e) => e.type === "turn-started"), 5_000, "turn-started");
      session.finalize();
      const ended = await waitFor(() => events.find((e) => e.type === "turn-ended"), 5_000, "turn-ended");
      if (ended.type !== "turn-ended") throw new Error("unreachable");
      expect(ended.trigger).toBe("manual");
      expect(order.text.startsWith(ended.text)).toBe(true);
      expect(events.find((e) => e.type === "final")).toMatchObject({ fromFinalize: true, speechFinal: true });
    } finally {
      await session.close();
    }
  });

  it("a dropped stream reconnects by itself: the turn is heard again whole, its index kept, a pending eager dropped", async () => {
    const tag = "p-drop";
    // The new connection hears the resent turn as a new line, so the script says it twice.
    const { session, events } = await open(tag, [hours.text, pauseLine.text, pauseLine.text], EAGER, {
      apiKey: "k",
      reconnect: { attempts: 3, backoffMs: 50 },
    });
    try {
      send(session, silence(300));
      send(session, hours.audio);
      send(session, silence(800));
      await waitFor(() => events.find((e) => e.type === "turn-ended"), 8_000, "first turn");
      // The caller stops mid-sentence at the `…`: an eager end is out when the connection drops.
      const partEnd = Math.round(pauseLine.audio.length * 0.35);
      send(session, pauseLine.audio.subarray(0, partEnd));
      send(session, silence(250));
      await waitFor(() => events.find((e) => e.type === "turn-eager-end" && e.turnIndex === 1), 5_000, "eager");
      expect(emulator.injectFault({ kind: "drop", tag })).toBe(1);
      send(session, pauseLine.audio.subarray(partEnd));
      send(session, silence(800));
      const ended = await waitFor(
        () => events.find((e) => e.type === "turn-ended" && e.turnIndex === 1),
        8_000,
        "second turn after the reconnect",
      );
      if (ended.type !== "turn-ended") throw new Error("unreachable");
      expect(events.some((e) => e.type === "closed")).toBe(false);
      expect(ended.text).toBe("My order number is four eight two one three.");
      // The prepared reply was dropped when the socket went: a resumed before anything of the new connection.
      const t = turnEvents(events);
      expect(t.indexOf("turn-resumed#1:My order number is")).toBeGreaterThan(
        t.indexOf("turn-eager-end#1:My order number is"),
      );
      expect(t.filter((x) => x === "turn-started#1")).toHaveLength(1);
    } finally {
      await session.close();
    }
  });

  it("gives up with a closed event when reconnecting is off, and configure() on a stalled stream times out", async () => {
    const tag = "p-faults";
    const { session, events } = await open(tag, [hours.text], EAGER, {
      apiKey: "k",
      reconnect: { attempts: 0, backoffMs: 10 },
      configureTimeoutMs: 300,
    });
    emulator.injectFault({ kind: "stall", tag });
    await expect(session.configure({ eotThreshold: 0.8 })).rejects.toThrow(/no answer/);
    emulator.clearFaults();
    emulator.injectFault({ kind: "drop", tag });
    const closed = await waitFor(() => events.find((e) => e.type === "closed"), 5_000, "closed");
    expect(closed).toMatchObject({ type: "closed", code: 1006 });
    await session.close();
  });

  it("refuses thresholds out of Flux's ranges at open", async () => {
    const provider = deepgramFluxStt({ apiKey: "k", baseUrl: emulator.url });
    await expect(
      provider.open(
        { ...sttOptions("p-bad"), turn: { eagerEotThreshold: 0.9, eotThreshold: 0.7, eotTimeoutMs: 5_000 } },
        () => {},
      ),
    ).rejects.toThrow(/exceed/);
    await expect(
      provider.open(
        { ...sttOptions("p-bad"), turn: { eagerEotThreshold: null, eotThreshold: 0.7, eotTimeoutMs: 50 } },
        () => {},
      ),
    ).rejects.toThrow(/eotTimeoutMs/);
  });

  it("deepgramRecognizers opens Flux or Nova-3 as the options ask", async () => {
    const stt = deepgramRecognizers({
      flux: deepgramFluxStt({ apiKey: "k", baseUrl: emulator.url }),
      nova: deepgramStt({ apiKey: "k", baseUrl: emulator.url }),
    });
    const flux = await stt.open({ ...sttOptions("p-choice"), recognizer: "flux" }, () => {});
    const nova = await stt.open({ ...sttOptions("p-choice"), recognizer: "nova-3" }, () => {});
    const unsaid = await stt.open(sttOptions("p-choice"), () => {});
    expect([flux.turnDetection, nova.turnDetection, unsaid.turnDetection]).toEqual([
      "semantic",
      "endpointing",
      "endpointing",
    ]);
    await Promise.all([flux.close(), nova.close(), unsaid.close()]);
  });
});
