// The one interruption path. Whatever stops the agent (the caller cutting in, a newer turn, a fold, the node
// draining) goes through `interrupt()`, in a fixed order: the agent's audio is cleared first (the carrier's
// `clear` leaves in this same event, no queue hop), then the reply is interrupted (its model stream and tools
// abort, and it keeps what was heard), then the history is cut to what the caller heard.
import type { AgentAudio } from "./agent-audio.ts";
import type { History } from "./history.ts";
import type { InterruptReason, Reply } from "./reply.ts";

export interface Interruption {
  reason: InterruptReason;
  /** When the cause was detected (performance.now() clock): the clear delay is measured from it. */
  detectedAt: number;
}

export interface InterruptionTargets {
  audio: AgentAudio;
  history: History;
  /** The reply in progress, if any. */
  reply: Reply | undefined;
}

export interface InterruptionResult {
  audible: boolean;
  clearSentAt: number;
}

export function interrupt(targets: InterruptionTargets, interruption: Interruption): InterruptionResult {
  const { audio, history, reply } = targets;
  const { audible, clearSentAt, heard } = audio.clear(interruption.detectedAt, reply);
  if (reply && !reply.settled) {
    const clearDelayMs = audible ? Math.round((clearSentAt - interruption.detectedAt) * 1000) / 1000 : undefined;
    reply.interrupt(interruption.reason, heard, clearDelayMs);
    // A fold rewinds the history instead: the reply never happened.
    if (interruption.reason !== "fold") history.trimToHeard(reply);
  }
  return { audible, clearSentAt };
}
