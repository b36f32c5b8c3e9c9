// What the caller measures, turn by turn, from what it sends and hears: when each line started and ended, when the
// agent's reply first arrived and was heard, how long its silences were, and for a barge-in how soon the agent went
// quiet and stopped (its `clear`). The timings are milliseconds since the stream started.
import { FRAME_BYTES, FRAME_MS, mulawRms } from "./audio.ts";
import type { CallReport, TurnReport } from "./types.ts";

export interface Turn {
  line: string;
  text: string | null;
  startedAt: number | null;
  endOfSpeechAt: number | null;
  firstVoiceReceivedAt: number | null;
  lastVoiceReceivedAt: number | null;
  firstVoicePlayedAt: number | null;
  lastVoicePlayedAt: number | null;
  replyWindowAt: number;
  bargedIn: boolean;
  clearAt: number | null;
  interrupted: boolean;
  timedOut: boolean;
  /** First voiced frame of this line sent. */
  onsetAt: number | null;
  /** Barge-in lines: the last voiced frame heard of the reply they talked over, since their onset. */
  interruptedReplyLastVoiceAt: number | null;
  /** Barge-in lines: when the reply they talked over went quiet as heard (see agentStoppedAfterOnsetMs). */
  agentStoppedAt: number | null;
  agentHeardAfterStopMs: number;
  longestSilenceMs: number;
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The turns of one call and which of them the agent's audio belongs to. */
export class TurnMeter {
  readonly greeting: Turn;
  readonly turns: Turn[] = [];
  /** The turn whose reply window is open: the next agent audio to arrive is its reply. */
  replyTurn: Turn | null;
  /** The turn hearing playback. */
  playbackTurn: Turn | null;
  /** A barge-in line still waiting for the agent's `clear`. */
  pendingBargeIn: Turn | null = null;
  private lastVoiceReceivedAt = Number.NEGATIVE_INFINITY;
  private lastVoicePlayedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly now: () => number,
    /** RMS on the 16-bit scale above which a frame counts as speech. */
    private readonly energyThreshold: number,
  ) {
    this.greeting = this.newTurn("(greeting)", null, false, 0);
    this.replyTurn = this.greeting;
    this.playbackTurn = this.greeting;
  }

  voiced(audio: Uint8Array, from = 0, to = audio.length): boolean {
    return mulawRms(audio, from, to) > this.energyThreshold;
  }

  /** A caller line (or a barge-in line), listed in the call's turns. */
  addTurn(line: string, text: string | null, bargedIn: boolean): Turn {
    const turn = this.newTurn(line, text, bargedIn, this.now());
    this.turns.push(turn);
    return turn;
  }

  private newTurn(line: string, text: string | null, bargedIn: boolean, replyWindowAt: number): Turn {
    return {
      line,
      text,
      startedAt: null,
      endOfSpeechAt: null,
      firstVoiceReceivedAt: null,
      lastVoiceReceivedAt: null,
      firstVoicePlayedAt: null,
      lastVoicePlayedAt: null,
      replyWindowAt,
      bargedIn,
      clearAt: null,
      interrupted: false,
      timedOut: false,
      onsetAt: null,
      interruptedReplyLastVoiceAt: null,
      agentStoppedAt: null,
      agentHeardAfterStopMs: 0,
      longestSilenceMs: 0,
    };
  }

  openReplyWindow(turn: Turn): void {
    turn.replyWindowAt = this.now();
    this.replyTurn = turn;
    this.playbackTurn = turn;
  }

  /** The last agent speech either received or heard. */
  lastVoiceAt(): number {
    return Math.max(this.lastVoiceReceivedAt, this.lastVoicePlayedAt);
  }

  /** One frame of a caller line went out (`n` bytes of it were the line's audio). */
  lineFrameSent(turn: Turn, frame: Uint8Array, n: number, first: boolean, last: boolean): void {
    if (first) turn.startedAt = this.now();
    if (turn.onsetAt === null && this.voiced(frame, 0, n)) turn.onsetAt = this.now();
    if (last) turn.endOfSpeechAt = this.now();
  }

  /** Agent audio arrived (not yet heard). */
  received(audio: Uint8Array): void {
    let voiced = false;
    for (let i = 0; i < audio.length && !voiced; i += FRAME_BYTES) {
      voiced = this.voiced(audio, i, Math.min(audio.length, i + FRAME_BYTES));
    }
    if (!voiced) return;
    const t = this.now();
    this.lastVoiceReceivedAt = t;
    const turn = this.replyTurn;
    if (turn) {
      turn.firstVoiceReceivedAt ??= t;
      turn.lastVoiceReceivedAt = t;
    }
  }

  /** One frame of playout was heard, `n` bytes of it agent audio. */
  played(frame: Uint8Array, n: number): void {
    const voiced = n > 0 && this.voiced(frame, 0, n);
    if (voiced) {
      const t = this.now();
      this.lastVoicePlayedAt = t;
      const turn = this.playbackTurn;
      if (turn) {
        if (turn.lastVoicePlayedAt !== null) {
          turn.longestSilenceMs = Math.max(turn.longestSilenceMs, t - turn.lastVoicePlayedAt - FRAME_MS);
        }
        turn.firstVoicePlayedAt ??= t;
        turn.lastVoicePlayedAt = t;
      }
    }
    this.followBargeIn(voiced);
  }

  /** While a barge-in line waits for its `clear`: when the reply it talks over went quiet, and what followed. */
  private followBargeIn(voiced: boolean): void {
    const barge = this.pendingBargeIn;
    if (!barge || barge.onsetAt === null || this.playbackTurn === barge) return;
    const t = this.now();
    if (barge.agentStoppedAt !== null) {
      if (voiced) barge.agentHeardAfterStopMs += FRAME_MS;
      return;
    }
    if (voiced) barge.interruptedReplyLastVoiceAt = t;
    const quietFrom = (barge.interruptedReplyLastVoiceAt ?? barge.onsetAt - FRAME_MS) + FRAME_MS;
    if (!voiced && t + FRAME_MS - quietFrom >= 200) barge.agentStoppedAt = quietFrom;
  }

  /** The agent sent `clear` (its queued audio is already dropped). */
  cleared(): void {
    // Audio the agent withdrew while the caller was still talking (e.g. the greeting it stopped) is not the reply.
    const turn = this.replyTurn;
    if (
      turn &&
      turn !== this.greeting &&
      turn.firstVoiceReceivedAt !== null &&
      (turn.endOfSpeechAt === null || turn.firstVoiceReceivedAt < turn.endOfSpeechAt)
    ) {
      turn.firstVoiceReceivedAt = turn.lastVoiceReceivedAt = null;
      turn.firstVoicePlayedAt = turn.lastVoicePlayedAt = null;
    }
    const barge = this.pendingBargeIn;
    if (barge && barge.startedAt !== null && barge.clearAt === null) {
      barge.clearAt = this.now();
      if (barge.onsetAt !== null) {
        barge.agentStoppedAt ??= (barge.interruptedReplyLastVoiceAt ?? barge.onsetAt - FRAME_MS) + FRAME_MS;
      }
      this.pendingBargeIn = null;
      this.openReplyWindow(barge);
    }
  }

  report(turn: Turn): TurnReport {
    const end = turn.endOfSpeechAt ?? turn.startedAt ?? 0;
    const start = turn.startedAt ?? end;
    return {
      line: turn.line,
      text: turn.text,
      startedAt: round(start),
      endOfSpeechAt: round(end),
      speechMs: round(end - start),
      firstAgentAudioMs: turn.firstVoiceReceivedAt === null ? null : round(turn.firstVoiceReceivedAt - end),
      agentAudioMs:
        turn.firstVoicePlayedAt === null || turn.lastVoicePlayedAt === null
          ? 0
          : round(turn.lastVoicePlayedAt - turn.firstVoicePlayedAt + FRAME_MS),
      bargedIn: turn.bargedIn,
      clearAfterMs: turn.clearAt === null ? null : round(turn.clearAt - start),
      interrupted: turn.interrupted,
      timedOut: turn.timedOut,
      speechOnsetMs: turn.onsetAt === null ? null : round(turn.onsetAt - start),
      agentStoppedAfterOnsetMs:
        turn.clearAt === null || turn.onsetAt === null || turn.agentStoppedAt === null
          ? null
          : round(Math.max(0, turn.agentStoppedAt - turn.onsetAt)),
      agentHeardAfterStopMs: turn.agentHeardAfterStopMs,
      longestAgentSilenceMs: round(turn.longestSilenceMs),
    };
  }

  greetingReport(): CallReport["greeting"] {
    const r = this.report(this.greeting);
    return {
      firstAgentAudioMs: this.greeting.firstVoiceReceivedAt === null ? null : round(this.greeting.firstVoiceReceivedAt),
      agentAudioMs: r.agentAudioMs,
    };
  }
}
