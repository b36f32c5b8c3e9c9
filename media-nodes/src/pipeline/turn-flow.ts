// How events flow between a call's parts: the recogniser's events into turn detection, its typed turns into
// replies (speculate, drop, commit), speech onset into the barge-in pause, and the one interruption path. Call
// wires the parts; this is the traffic between them, kept apart so each route can be read on its own.
import type { SttEvent } from "../providers/types.ts";
import type { AgentAudio } from "./agent-audio.ts";
import type { BargeInPause, PauseRecord } from "./barge-in-pause.ts";
import type { History } from "./history.ts";
import { type Interruption, interrupt } from "./interruption.ts";
import type { Replies } from "./replies.ts";
import type { Telemetry } from "./telemetry.ts";
import type { UserTurnEvent, UserTurns } from "./user-turns.ts";
import type { EnergyVad } from "./vad.ts";

export interface TurnFlowParts {
  userTurns: UserTurns;
  bargeInPause: BargeInPause;
  replies: Replies;
  agentAudio: AgentAudio;
  history: History;
  telemetry: Telemetry;
  vad: EnergyVad;
  /** The call has ended: events still in flight are dropped. */
  ended: () => boolean;
  /** The recogniser is gone for good (STT recovery already reopened what it could). */
  onSttLost: (reason: string) => void;
}

export class TurnFlow {
  readonly #p: TurnFlowParts;
  /** Canned lines played with no reply in progress, waiting for the turn they belong to. */
  #looseLines: { source: "filler"; text: string }[] = [];

  constructor(parts: TurnFlowParts) {
    this.#p = parts;
  }

  /** A filler heard before any reply exists (a stalled recogniser mid-turn): stored with the reply that follows. */
  holdLooseLine(line: { source: "filler"; text: string }): void {
    this.#looseLines.push(line);
  }

  onStt(event: SttEvent): void {
    if (this.#p.ended()) return;
    if (event.type === "closed") {
      this.#p.onSttLost(event.reason);
      return;
    }
    const now = performance.now();
    // Flux's start of turn is a speech onset too: the same pause as the VAD's.
    if (event.type === "turn-started" && this.#p.bargeInPause.onRecognizerOnset(now)) this.#notePause(now);
    this.#p.userTurns.onStt(event, now);
  }

  /** Each caller frame: a caller who speaks again after a resume, in the same utterance, pauses the agent again. */
  onCallerFrame(now: number, voiced: boolean, speaking: boolean): void {
    if (this.#p.bargeInPause.onCallerFrame(now, voiced, speaking)) this.#notePause(now);
  }

  onUserTurn(event: UserTurnEvent): void {
    switch (event.type) {
      // Speech onset over the agent pauses it at once (no clear: the carrier plays out what it has). Flux's
      // start of turn does the same (#onStt).
      case "speech-started":
        if (this.#p.bargeInPause.onset(event.at)) this.#notePause(event.at);
        return;
      case "interruption":
        this.interrupt({ reason: "barge-in", detectedAt: event.detectedAt });
        return;
      case "eager-end":
        this.#p.replies.speculate(event.text, event.speechEndAt);
        return;
      case "resumed":
        this.#p.replies.dropSpeculation();
        return;
      case "turn-ended":
        this.#p.replies.onUserTurn(event.text, event.speechEndAt, event.sttFinalAt);
        this.#attachLooseLines();
        return;
    }
  }

  /** Every line the caller heard is stored: loose ones go first in the turn that answers them. */
  #attachLooseLines(): void {
    const reply = this.#p.replies.current;
    if (this.#looseLines.length === 0 || !reply || reply.settled) return;
    reply.lines.unshift(...this.#looseLines);
    this.#looseLines = [];
  }

  #notePause(at: number): void {
    const times = this.#p.agentAudio.current?.times;
    if (!times) return;
    times.pausedAt = at;
    times.resumedAt = times.pauseDecidedAt = undefined;
    times.pauses = (times.pauses ?? 0) + 1;
  }

  onPauseDecided(record: PauseRecord): void {
    // A pause with no interruption may have been a louder echo than the VAD assumed: it learns the line again.
    if (record.outcome === "resumed") this.#p.vad.relearnEcho();
    const reply = this.#p.agentAudio.current;
    if (reply?.times.pausedAt === record.pausedAt) {
      reply.times.pauseDecidedAt = record.decidedAt;
      if (record.outcome === "resumed") reply.times.resumedAt = record.decidedAt;
    }
    this.#p.telemetry.bargeInPause(record);
  }

  /** The one interruption path (interruption.ts): clear, reply interrupt, history trim. */
  interrupt(interruption: Interruption): void {
    // A pause in progress is decided here: the caller interrupted, or something else stopped the agent.
    this.#p.bargeInPause.settle(interruption.detectedAt, interruption.reason === "barge-in" ? "interrupted" : "ended");
    const { clearSentAt } = interrupt(
      { audio: this.#p.agentAudio, history: this.#p.history, reply: this.#p.replies.current },
      interruption,
    );
    if (interruption.reason === "barge-in") this.#p.telemetry.bargeIn(interruption.detectedAt, clearSentAt);
  }
}
