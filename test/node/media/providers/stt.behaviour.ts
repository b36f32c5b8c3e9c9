// What every SttProvider must do, whoever implements it. Run against the fake (scripted) and against
// deepgramStt talking to the Deepgram emulator with real speech, so the fake can't drift from what the
// real client does (hono's common-case pattern).
import { describe, expect, it } from "vitest";
import type { SttEvent, SttOptions, SttProvider, SttSession } from "../../../../media-nodes/src/providers/types.ts";
import { loadUtterance, silence, type Utterance, wordsOf } from "./speech.ts";

export interface SttDrive {
  /** The caller says the whole utterance, then pauses (so the vendor can endpoint). */
  say(provider: SttProvider, session: SttSession, utterance: Utterance): Promise<void>;
  /** The caller says only the first part of the utterance, still talking. */
  startSaying(provider: SttProvider, session: SttSession, utterance: Utterance): Promise<void>;
  teardown?(): Promise<void>;
}

export function sttOptions(tag: string): SttOptions {
  return {
    encoding: "mulaw",
    sampleRate: 8_000,
    language: "en-US",
    endpointingMs: 300,
    utteranceEndMs: 1_000,
    keyterms: ["Acme", "order number"],
    tag,
  };
}

export async function waitFor<T>(check: () => T | undefined, timeoutMs = 8_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function runSttBehaviour(
  name: string,
  makeProvider: (tag: string) => Promise<SttProvider>,
  drive: SttDrive,
): void {
  describe(`SttProvider behaviour: ${name}`, () => {
    const order = loadUtterance("order-status");
    const hours = loadUtterance("opening-hours");

    it("turns the caller's sentence into a final transcript marked as the end of speech", async () => {
      const tag = `b-final-${name}`;
      const provider = await makeProvider(tag);
      const events: SttEvent[] = [];
      const session = await provider.open(sttOptions(tag), (e) => events.push(e));
      try {
        await drive.say(provider, session, order);
        const final = await waitFor(
          () => events.find((e) => e.type === "final" && e.speechFinal),
          8_000,
          "speech-final",
        );
        if (final.type !== "final") throw new Error("unreachable");
        const heard = wordsOf(events.flatMap((e) => (e.type === "final" ? [e.text] : [])).join(" "));
        expect(heard).toEqual(expect.arrayContaining(["order", "48213"]));
        expect(final.words.length).toBeGreaterThan(0);
        for (const w of final.words) expect(w.end).toBeGreaterThanOrEqual(w.start);
        // Speech was noticed before it was transcribed.
        const started = events.findIndex((e) => e.type === "speech-started");
        expect(started).toBeGreaterThanOrEqual(0);
        expect(started).toBeLessThan(events.indexOf(final));
        expect(events.some((e) => e.type === "closed")).toBe(false);
      } finally {
        await session.close();
        await drive.teardown?.();
      }
    });

    it("answers finalize() with a final of what was heard so far", async () => {
      const tag = `b-finalize-${name}`;
      const provider = await makeProvider(tag);
      const events: SttEvent[] = [];
      const session = await provider.open(sttOptions(tag), (e) => events.push(e));
      try {
        await drive.startSaying(provider, session, hours);
        session.finalize();
        const final = await waitFor(
          () => events.find((e) => e.type === "final" && e.fromFinalize),
          8_000,
          "fromFinalize final",
        );
        if (final.type !== "final") throw new Error("unreachable");
        expect(final.text.length).toBeGreaterThan(0);
      } finally {
        await session.close();
        await drive.teardown?.();
      }
    });

    it("configure() answers with the thresholds in force when the recogniser decides turns, else with null", async () => {
      const tag = `b-configure-${name}`;
      const provider = await makeProvider(tag);
      const session = await provider.open(sttOptions(tag), () => {});
      try {
        const answer = await session.configure({ eotThreshold: 0.85, eotTimeoutMs: 7_000 });
        if (session.turnDetection === "semantic") {
          expect(answer).toMatchObject({ eotThreshold: 0.85, eotTimeoutMs: 7_000 });
          // Out of range: refused, and what was in force stays.
          await expect(session.configure({ eotThreshold: 0.99 })).rejects.toThrow(/eotThreshold/);
          expect(await session.configure({})).toMatchObject({ eotThreshold: 0.85 });
        } else {
          expect(session.turnDetection).toBe("endpointing");
          expect(answer).toBeNull();
        }
      } finally {
        await session.close();
        await drive.teardown?.();
      }
    });

    it("is silent after close(), even if audio keeps coming", async () => {
      const tag = `b-close-${name}`;
      const provider = await makeProvider(tag);
      const events: SttEvent[] = [];
      const session = await provider.open(sttOptions(tag), (e) => events.push(e));
      await session.close();
      const before = events.length;
      session.sendAudio(silence(200));
      session.finalize();
      await new Promise((r) => setTimeout(r, 300));
      expect(events.length).toBe(before);
      await drive.teardown?.();
    });
  });
}
