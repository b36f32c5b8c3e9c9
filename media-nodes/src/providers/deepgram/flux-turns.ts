// Flux's TurnInfo messages as our turn events (turn-started, turn-eager-end, turn-resumed, turn-ended) plus the plain
// events every SttSession sends (speech-started, interim, one speechFinal final per turn), across the connections of
// one call: the vendor's turn_index restarts at 0 and its times at 0 on each socket; the call sees one stream.
import type { SttEvent, SttWord } from "../types.ts";
import type { TurnInfo } from "./flux-wire.ts";

export interface FluxTurnHooks {
  emit(event: SttEvent): void;
  /** A turn ended at `windowEndSec` into the current connection's audio (before its events are emitted). */
  turnEnded(windowEndSec: number, manual: boolean): void;
}

export class FluxTurns {
  /** Turns ended before this connection: added to the vendor's turn_index. */
  #turnBase = 0;
  /** The call-wide index of the last turn-started we reported, and whether its eager end is outstanding. */
  #startedTurn = -1;
  #eagerOpen = false;
  #endedTurns = 0;
  #lastInterim = "";
  /** Where the current connection's time zero is on the call's clock. */
  #offsetSec = 0;

  constructor(private readonly hooks: FluxTurnHooks) {}

  /** A connection opens whose audio begins `offsetSec` into the call's. */
  connected(offsetSec: number): void {
    this.#offsetSec = offsetSec;
    this.#turnBase = this.#endedTurns;
  }

  /**
   * The connection was lost. The new socket will hear the open turn again and may judge it differently: a reply
   * prepared on its eager end must not be used.
   */
  lost(): void {
    if (!this.#eagerOpen) return;
    this.#eagerOpen = false;
    this.hooks.emit({ type: "turn-resumed", turnIndex: this.#startedTurn, text: this.#lastInterim });
  }

  /** Flux words carry no times on every deployment: spread them over the turn's audio window when absent. */
  #words(info: TurnInfo): SttWord[] {
    const offset = this.#offsetSec;
    const n = info.words.length;
    const span = Math.max(0, info.audio_window_end - info.audio_window_start);
    return info.words.map((w, i) => ({
      word: w.word,
      start: (w.start ?? info.audio_window_start + (span * i) / Math.max(1, n)) + offset,
      end: (w.end ?? info.audio_window_start + (span * (i + 1)) / Math.max(1, n)) + offset,
      confidence: w.confidence,
    }));
  }

  onTurnInfo(info: TurnInfo): void {
    const emit = this.hooks.emit;
    const turnIndex = this.#turnBase + (info.turn_index ?? 0);
    const text = (info.transcript ?? "").trim();
    switch (info.event) {
      case "StartOfTurn": {
        // After a reconnect the open turn is heard again: report its start once.
        if (turnIndex === this.#startedTurn) return;
        this.#startedTurn = turnIndex;
        this.#eagerOpen = false;
        this.#lastInterim = text;
        const timestamp = info.audio_window_start + this.#offsetSec;
        emit({ type: "speech-started", timestamp });
        emit({ type: "turn-started", turnIndex, text, timestamp });
        return;
      }
      case "Update":
        if (text.length > 0 && text !== this.#lastInterim) {
          this.#lastInterim = text;
          emit({ type: "interim", text, words: this.#words(info) });
        }
        return;
      case "EagerEndOfTurn":
        if (text.length === 0) return;
        this.#eagerOpen = true;
        emit({
          type: "turn-eager-end",
          turnIndex,
          text,
          words: this.#words(info),
          confidence: info.end_of_turn_confidence,
        });
        return;
      case "TurnResumed":
        if (!this.#eagerOpen) return;
        this.#eagerOpen = false;
        emit({ type: "turn-resumed", turnIndex, text });
        return;
      case "EndOfTurn": {
        const trigger = info.trigger ?? "model";
        const manual = trigger === "manual";
        this.hooks.turnEnded(info.audio_window_end, manual);
        const words = this.#words(info);
        const nothingSaid = text.length === 0 && this.#startedTurn < turnIndex;
        if (!nothingSaid) {
          this.#endedTurns = turnIndex + 1;
          this.#startedTurn = Math.max(this.#startedTurn, turnIndex);
        }
        this.#eagerOpen = false;
        this.#lastInterim = "";
        emit({ type: "turn-ended", turnIndex, text, words, confidence: info.end_of_turn_confidence, trigger });
        // The plain final every SttSession sends; an empty one only answers a finalize().
        if (text.length > 0 || manual) {
          const confidence =
            words.length > 0 ? words.reduce((s, w) => s + w.confidence, 0) / words.length : info.end_of_turn_confidence;
          emit({ type: "final", text, words, speechFinal: true, fromFinalize: manual, confidence });
        }
        return;
      }
      default:
        return;
    }
  }
}
