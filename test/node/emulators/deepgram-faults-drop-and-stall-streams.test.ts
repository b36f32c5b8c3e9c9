// Fault controls of the Deepgram emulator: a listen stream can be dropped (the connection is lost) or stalled (audio is
// taken, nothing comes back), on Nova-3 and Flux alike, from the test's process or over HTTP from another.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeepgramEmulator, startDeepgramEmulator } from "../../../emulators/deepgram/index.ts";
import { loadFixture } from "../../../emulators/twilio-caller/speech.ts";
import {
  mulawSilence,
  openFlux,
  openListen,
  sdk,
  sendFluxFrames,
  sendFrames,
  turnEvents,
} from "./support/deepgram-sdk.ts";

let emulator: DeepgramEmulator;
beforeAll(async () => {
  emulator = await startDeepgramEmulator({ host: "127.0.0.1", port: 0, profile: "instant" });
});
afterAll(async () => {
  await emulator.close();
});

const NOVA = {
  model: "nova-3",
  encoding: "mulaw",
  sample_rate: 8000,
  interim_results: "true",
  endpointing: 300,
  punctuate: "true",
} as const;

const line = (name: string) => Buffer.concat([mulawSilence(0.3), Buffer.from(loadFixture(name)), mulawSilence(1)]);

async function postFault(body: unknown): Promise<Response> {
  return fetch(`${emulator.url}/__emulator/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("Deepgram emulator faults", () => {
  it("drop (over HTTP) cuts only the tagged stream's connection, without a close frame", async () => {
    const dg = sdk(emulator.url);
    const victim = await openListen(dg, { ...NOVA, tag: "drop-me" });
    const bystander = await openFlux(dg, { tag: "keep-me" });
    const res = await postFault({ kind: "drop", tag: "drop-me" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ kind: "drop", tag: "drop-me", streams: 1 });
    await victim.rec.waitFor(() => victim.rec.close !== null, 5_000, "close");
    // 1006: the connection went away with no close frame, as a network drop does.
    expect(victim.rec.close?.code).toBe(1006);

    // The other stream is untouched and still hears its caller.
    await sendFluxFrames(bystander.socket, line("opening-hours"));
    await bystander.rec.waitFor(() => turnEvents(bystander.rec).some((t) => t.event === "EndOfTurn"), 5_000, "turn");
    expect(bystander.rec.close).toBeNull();
    bystander.socket.close();
  });

  it("drop hits Flux streams too, and a drop with nothing open says so", async () => {
    const flux = await openFlux(sdk(emulator.url), { tag: "drop-flux" });
    expect(emulator.injectFault({ kind: "drop", tag: "drop-flux" })).toBe(1);
    await flux.rec.waitFor(() => flux.rec.close !== null, 5_000, "close");
    expect(flux.rec.close?.code).toBe(1006);
    expect(emulator.injectFault({ kind: "drop", tag: "drop-flux" })).toBe(0);
  });

  it("stall takes the audio and answers nothing until cleared; streams opened meanwhile stall too", async () => {
    const dg = sdk(emulator.url);
    const nova = await openListen(dg, { ...NOVA, tag: "stall" });
    expect(emulator.injectFault({ kind: "stall", tag: "stall" })).toBe(1);
    const flux = await openFlux(dg, { tag: "stall", eager_eot_threshold: 0.5 });

    await sendFrames(nova.socket, line("order-status"));
    await sendFluxFrames(flux.socket, line("order-status"));
    await new Promise((r) => setTimeout(r, 400));
    expect(nova.rec.results()).toHaveLength(0);
    expect(turnEvents(flux.rec)).toHaveLength(0);
    // Connected went out before the stall took hold; the sockets stay open.
    expect(flux.rec.ofType("Connected")).toHaveLength(1);
    expect(nova.rec.close).toBeNull();
    expect(flux.rec.close).toBeNull();

    const listed = (await (await fetch(`${emulator.url}/__emulator/faults`)).json()) as { faults: unknown[] };
    expect(listed.faults).toEqual([{ kind: "stall", tag: "stall" }]);
    const cleared = await fetch(`${emulator.url}/__emulator/faults`, { method: "DELETE" });
    expect(cleared.status).toBe(204);

    // Answers come back for the audio that follows; what was said during the stall is never sent.
    await sendFrames(nova.socket, line("opening-hours"));
    await sendFluxFrames(flux.socket, line("opening-hours"));
    await nova.rec.waitFor(() => nova.rec.results().some((r) => r.speech_final), 5_000, "Nova final");
    await flux.rec.waitFor(() => turnEvents(flux.rec).some((t) => t.event === "EndOfTurn"), 5_000, "Flux turn");
    const stalledFor = line("order-status").length / 8000;
    for (const r of nova.rec.results()) {
      for (const w of r.channel.alternatives[0]?.words ?? []) expect(w.start).toBeGreaterThanOrEqual(stalledFor);
    }
    for (const t of turnEvents(flux.rec)) expect(t.audio_window_start).toBeGreaterThanOrEqual(stalledFor);
    // sequence_id still counts every message the client actually received.
    expect(flux.rec.messages.map((m) => m.msg.sequence_id)).toEqual(flux.rec.messages.map((_, i) => i));
    nova.socket.close();
    flux.socket.close();
  });

  it("refuses a malformed fault with 400 and applies nothing", async () => {
    for (const body of [{ kind: "explode" }, { kind: "drop", tag: "" }, { kind: "stall", extra: 1 }, "drop"]) {
      const res = await postFault(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { err_code: string }).err_code).toBe("INVALID_REQUEST_BODY");
    }
    const bad = await fetch(`${emulator.url}/__emulator/faults`, { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);
    const listed = (await (await fetch(`${emulator.url}/__emulator/faults`)).json()) as { faults: unknown[] };
    expect(listed.faults).toEqual([]);
  });
});
