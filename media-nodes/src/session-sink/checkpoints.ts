// The two checkpoint events a call session publishes so its CallLedger holds every finished piece of a turn the
// moment it exists (shared/session-events.ts): the caller's final words at end of turn, and the agent's reply as
// heard at each playback mark. They go through the session's own publish (which numbers them, `seq`) to the sink.
import type { AgentTextHeardEvent, CallerTurnFinalEvent } from "../../../shared/session-events.ts";

type Unnumbered<T> = Omit<T, "seq">;

/** End of a caller turn: the final transcript, before the model is asked. `entities`: extractEntities(history). */
export function callerTurnFinal(input: {
  callId: string;
  index: number;
  text: string;
  entities?: Record<string, string> | undefined;
  /** The turn whose words this one continues (folded into it); that turn leaves no record of its own. */
  folds?: number | undefined;
  at?: number;
}): Unnumbered<CallerTurnFinalEvent> {
  return {
    type: "turn.caller-final",
    callId: input.callId,
    index: input.index,
    text: input.text,
    ...(input.folds !== undefined ? { folds: input.folds } : {}),
    ...(input.entities && Object.keys(input.entities).length > 0 ? { entities: capEntities(input.entities) } : {}),
    at: input.at ?? Date.now(),
  };
}

/** A playback mark came back: the caller has now heard `text` (the whole reply so far) of turn `index`. */
export function agentTextHeard(input: {
  callId: string;
  index: number;
  text: string;
  mark?: string | undefined;
  at?: number;
}): Unnumbered<AgentTextHeardEvent> {
  return {
    type: "turn.agent-heard",
    callId: input.callId,
    index: input.index,
    text: input.text,
    ...(input.mark !== undefined ? { mark: input.mark.slice(0, 128) } : {}),
    at: input.at ?? Date.now(),
  };
}

/**
 * Which text each outstanding mark stands for. The speech output registers a mark with the reply text up to the end
 * of the audio sent before it; when the carrier echoes the mark (that audio has played), `played` says what the
 * caller has heard. A `clear` (barge-in) drops the marks still pending: their audio was never heard.
 */
export class HeardText {
  readonly #pending = new Map<string, { index: number; text: string }>();

  sent(mark: string, index: number, textSoFar: string): void {
    this.#pending.set(mark, { index, text: textSoFar });
  }

  /** The turn and text heard once `mark` played; undefined for a mark this tracker did not send. */
  played(mark: string): { index: number; text: string } | undefined {
    const heard = this.#pending.get(mark);
    if (!heard) return undefined;
    // Marks come back in order: everything before this one has played too.
    for (const key of this.#pending.keys()) {
      this.#pending.delete(key);
      if (key === mark) break;
    }
    return heard;
  }

  cleared(): void {
    this.#pending.clear();
  }
}

/** The edge takes at most 64 entities of bounded size; a node never sends what would be refused whole. */
function capEntities(entities: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entities).slice(0, 64)) {
    if (key.length === 0) continue;
    out[key.slice(0, 64)] = value.slice(0, 1_000);
  }
  return out;
}
