// Barge-in as heard at the caller, on the media node against the realistic emulators: each call says a line, says
// "uh-huh" over the answer (a back-channel: the agent must go on, with little silence), then says another line and
// talks over its answer (an interruption: the agent must go quiet soon after the caller's speech onset). Measured
// from the simulated caller's own playout: time-to-silence from the caller's first voiced frame to the agent's
// audio going quiet (the pause), agent speech still heard after that and before the `clear`, and the longest
// silence heard inside an answer a back-channel was said over.
import { loadFixtureIndex, SimulatedCaller } from "../../emulators/twilio-caller/caller.ts";
import type { Emulators, MediaNodeTarget } from "./stack.ts";
import { type Summary, sleep, summarize } from "./stats.ts";

const SCRIPT = ["order-status", "uh-huh", "opening-hours", "barge-in-change-address"] as const;

export interface BargeInFigures {
  calls: number;
  interruptions: {
    n: number;
    /** Caller's speech onset → the agent's audio quiet, as heard. */
    timeToSilenceMs: Summary;
    /** Agent speech heard after it first went quiet, before the clear (a resume between the caller's words). */
    heardAfterStopMs: Summary;
    /** The line's first frame → the carrier's `clear`. */
    clearAfterMs: Summary;
  };
  backchannels: {
    n: number;
    /** Back-channels the agent took for an interruption (should be 0). */
    interrupted: number;
    /** The longest silence heard inside the answer the back-channel was said over. */
    longestSilenceMs: Summary;
  };
  errors: string[];
}

export async function measureBargeIn(
  target: MediaNodeTarget,
  emulators: Emulators,
  calls: number,
  staggerMs = 700,
): Promise<BargeInFigures> {
  const index = loadFixtureIndex();
  const lines = SCRIPT.map((name) => index.fixtures.find((f) => f.name === name)?.text ?? name);
  const errors: string[] = [];
  const stops: number[] = [];
  const afterStop: number[] = [];
  const clears: number[] = [];
  const silences: number[] = [];
  let interruptedBackchannels = 0;
  const settled = await Promise.allSettled(
    Array.from({ length: calls }, async (_, i) => {
      await sleep(i * staggerMs);
      const callId = `barge_${i + 1}_${Date.now().toString(36)}`;
      // What the recognizer hears is what the caller says.
      const res = await fetch(`${emulators.deepgramUrl}/__emulator/scripts/${encodeURIComponent(callId)}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ lines }),
      });
      if (!res.ok) throw new Error(`could not script the recognizer: ${res.status}`);
      const caller = await SimulatedCaller.connect({
        streamUrl: target.streamUrl,
        customParameters: await target.callParameters(callId),
        callSid: callId,
        replyTimeoutMs: 8_000,
      });
      try {
        const back = await caller.sayAndBargeIn("order-status", { afterAgentAudioMs: 600, line: "uh-huh" });
        if (back.bargeIn.clearAfterMs !== null) interruptedBackchannels++;
        else silences.push(back.interrupted.longestAgentSilenceMs);
        const barge = await caller.sayAndBargeIn("opening-hours", {
          afterAgentAudioMs: 1_500,
          line: "barge-in-change-address",
        });
        const b = barge.bargeIn;
        if (b.clearAfterMs !== null) clears.push(b.clearAfterMs);
        if (b.agentStoppedAfterOnsetMs !== null) {
          stops.push(b.agentStoppedAfterOnsetMs);
          afterStop.push(b.agentHeardAfterStopMs);
        } else errors.push(`${callId}: the agent never stopped for the interruption`);
        for (const e of caller.report().errors) errors.push(`${callId}: ${e}`);
      } finally {
        await caller.hangUp();
      }
    }),
  );
  for (const s of settled) if (s.status === "rejected") errors.push(String(s.reason));
  return {
    calls,
    interruptions: {
      n: stops.length,
      timeToSilenceMs: summarize(stops),
      heardAfterStopMs: summarize(afterStop),
      clearAfterMs: summarize(clears),
    },
    backchannels: {
      n: silences.length + interruptedBackchannels,
      interrupted: interruptedBackchannels,
      longestSilenceMs: summarize(silences),
    },
    errors: errors.slice(0, 20),
  };
}
