// A simulated phone caller that speaks Twilio Media Streams (or Telnyx media streaming) over a WebSocket, the way
// the carrier does: `connected`, `start`, then one 160-byte μ-law `media` frame every 20 ms for the whole call,
// silence between lines. Agent audio it receives goes into a playout buffer consumed in real time; marks are echoed
// once the audio queued before them has played, and `clear` drops the buffer and echoes pending marks at once.
// It measures per turn how long the agent takes to start answering and how fast it yields to a barge-in.
//
// This module is the scripted speaker and the entry point the tests, bench and scripts import. The line itself is
// stream-session.ts, the wire format media-stream.ts, the playout clock playout.ts and the measurements turns.ts;
// the way Twilio rings the platform first is webhook.ts.
import { speechFor } from "./speech.ts";
import { StreamSession } from "./stream-session.ts";
import type { Turn } from "./turns.ts";
import {
  type BargeIn,
  CallerError,
  type CallerStep,
  type CallReport,
  type SimulatedCallerOptions,
  type TurnReport,
  type Utterance,
} from "./types.ts";

export { newAccountSid, newCallSid, newStreamSid } from "./media-stream.ts";
export { loadFixture, loadFixtureIndex, speechFor, synthesizeSpeech } from "./speech.ts";
export * from "./types.ts";

export class SimulatedCaller extends StreamSession {
  private constructor(options: SimulatedCallerOptions) {
    super(options);
  }

  /** Opens the stream, sends `connected` and `start`, and starts the 20 ms media clock. */
  static async connect(options: SimulatedCallerOptions): Promise<SimulatedCaller> {
    const caller = new SimulatedCaller(options);
    await caller.open();
    return caller;
  }

  /** Waits until the agent has answered and gone quiet (or never answers within replyTimeoutMs). */
  private async awaitReply(turn: Turn, timeoutMs = this.opts.replyTimeoutMs): Promise<void> {
    const from = () => turn.endOfSpeechAt ?? turn.replyWindowAt;
    await this.waitUntil(() => {
      const now = this.now();
      if (turn.firstVoiceReceivedAt === null) {
        if (now - Math.max(from(), turn.replyWindowAt) >= timeoutMs) {
          turn.timedOut = true;
          return true;
        }
        return false;
      }
      if (now - turn.firstVoiceReceivedAt >= this.opts.maxReplyMs) return true;
      return this.queuedBytes === 0 && now - this.meter.lastVoiceAt() >= this.opts.replySilenceMs;
    });
  }

  private async utterance(u: Utterance): Promise<{ audio: Uint8Array; line: string; text: string | null }> {
    if (typeof u !== "string") return { audio: u.audio, line: u.name ?? u.text ?? "(audio)", text: u.text ?? null };
    const s = await speechFor(u, { fixturesDir: this.options.fixturesDir });
    return { audio: s.audio, line: u, text: s.text };
  }

  /** Waits for the agent's opening words (if it speaks first) to finish. Not hearing any is not an error. */
  async waitForGreeting(timeoutMs = 8_000): Promise<CallReport["greeting"]> {
    const greeting = this.meter.greeting;
    await this.awaitReply(greeting, timeoutMs);
    greeting.timedOut = false;
    return this.meter.greetingReport();
  }

  /** Speaks one line, then listens until the agent's reply has finished. */
  async say(line: Utterance): Promise<TurnReport> {
    const u = await this.utterance(line);
    const turn = this.meter.addTurn(u.line, u.text, false);
    this.meter.openReplyWindow(turn);
    await this.speak(u.audio, turn);
    await this.awaitReply(turn);
    return this.meter.report(turn);
  }

  /**
   * Speaks `line`; once the agent's reply has been arriving for `bargeIn.afterAgentAudioMs`, talks over it with
   * `bargeIn.line` and measures how long the agent takes to stop (its `clear`), then listens to the new reply.
   */
  async sayAndBargeIn(line: Utterance, bargeIn: BargeIn): Promise<{ interrupted: TurnReport; bargeIn: TurnReport }> {
    const meter = this.meter;
    const [first, second] = await Promise.all([this.utterance(line), this.utterance(bargeIn.line)]);
    const turn = meter.addTurn(first.line, first.text, false);
    meter.openReplyWindow(turn);
    await this.speak(first.audio, turn);
    await this.waitUntil(() => {
      const now = this.now();
      if (turn.firstVoiceReceivedAt === null) {
        turn.timedOut = now - (turn.endOfSpeechAt ?? 0) >= this.opts.replyTimeoutMs;
        return turn.timedOut;
      }
      return now - turn.firstVoiceReceivedAt >= bargeIn.afterAgentAudioMs;
    });
    turn.interrupted = turn.firstVoiceReceivedAt !== null;
    const barge = meter.addTurn(second.line, second.text, true);
    // Until the agent clears, what still arrives belongs to the reply being interrupted.
    meter.replyTurn = null;
    meter.pendingBargeIn = barge;
    await this.speak(second.audio, barge);
    if (meter.pendingBargeIn === barge) {
      // No clear yet: give the agent until its old reply would have ended on its own.
      await this.waitUntil(
        () =>
          barge.clearAt !== null ||
          (this.queuedBytes === 0 && this.now() - meter.lastVoiceAt() >= this.opts.replySilenceMs) ||
          this.now() - (barge.endOfSpeechAt ?? 0) >= this.opts.replyTimeoutMs,
      );
      if (meter.pendingBargeIn === barge) {
        meter.pendingBargeIn = null;
        meter.openReplyWindow(barge);
      }
    }
    await this.awaitReply(barge);
    return { interrupted: meter.report(turn), bargeIn: meter.report(barge) };
  }

  /** Presses keys: one `dtmf` event per digit (0-9, *, #), `gapMs` apart, media continuing meanwhile. */
  async sendDtmf(digits: string, gapMs = 250): Promise<void> {
    if (!/^[0-9*#]+$/.test(digits)) throw new CallerError(`DTMF digits must be 0-9, * or #, got "${digits}"`, "EDTMF");
    for (const [i, digit] of [...digits].entries()) {
      if (this.isClosed) return;
      if (i > 0) await this.pause(gapMs);
      this.pressKey(digit);
    }
  }

  /** Stays on the line (sending silence) for a while. */
  async pause(ms: number): Promise<void> {
    const until = this.now() + ms;
    await this.waitUntil(() => this.now() >= until);
  }

  async runScript(steps: readonly CallerStep[]): Promise<void> {
    for (const [i, step] of steps.entries()) {
      if (this.isClosed) {
        this.errors.push(`the stream closed before step ${i + 1} of ${steps.length}`);
        return;
      }
      if (typeof step === "string") await this.say(step);
      else if ("line" in step) {
        if (step.bargeIn) await this.sayAndBargeIn(step.line, step.bargeIn);
        else await this.say(step.line);
      } else if ("dtmf" in step) await this.sendDtmf(step.dtmf, step.gapMs);
      else if ("pauseMs" in step && Number.isFinite(step.pauseMs)) await this.pause(step.pauseMs);
      else
        throw new CallerError(
          `script step ${i + 1} is not a line, dtmf or pauseMs: ${JSON.stringify(step)}`,
          "ESCRIPT",
        );
    }
  }
}

export interface PlaceSimulatedCallOptions extends SimulatedCallerOptions {
  script: readonly CallerStep[];
  /** Listen for the agent's greeting before the first line (default true). */
  waitForGreeting?: boolean;
  greetingTimeoutMs?: number;
  /** Write the call audio (caller left, agent right) to this WAV file. */
  recordTo?: string;
}

/** Places one whole call: connect, hear the greeting, run the script, hang up; returns its report. */
export async function placeSimulatedCall(options: PlaceSimulatedCallOptions): Promise<CallReport> {
  const caller = await SimulatedCaller.connect({
    ...options,
    record: options.record ?? options.recordTo !== undefined,
  });
  return runCall(caller, options);
}

/** Runs a script on an already connected caller, hangs up, and returns the report. */
export async function runCall(
  caller: SimulatedCaller,
  options: Pick<PlaceSimulatedCallOptions, "script" | "waitForGreeting" | "greetingTimeoutMs" | "recordTo">,
): Promise<CallReport> {
  try {
    if (options.waitForGreeting ?? true) await caller.waitForGreeting(options.greetingTimeoutMs);
    await caller.runScript(options.script);
  } finally {
    await caller.hangUp();
  }
  if (options.recordTo) await caller.saveRecording(options.recordTo);
  return caller.report();
}
