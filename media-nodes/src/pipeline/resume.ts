// Going on with a call moved here from a lost node: the history as the caller heard it, turns numbered from the
// checkpoint's `nextTurnIndex`, the bridge line instead of the greeting, then the answer the caller was owed.
import { performance } from "node:perf_hooks";
import type { CallCheckpoint } from "../../../shared/call-checkpoint.ts";
import type { Logger } from "../server/logger.ts";
import type { History } from "./history.ts";
import type { Replies } from "./replies.ts";

/** What a resumed call says first, before it goes on. */
export const RESUME_BRIDGE_LINE = "Sorry, I lost you for a second…";

/** Whether a checkpoint has a conversation to go on with (else the call greets as a new one). */
export function hasConversation(checkpoint: CallCheckpoint | undefined): checkpoint is CallCheckpoint {
  return checkpoint !== undefined && (checkpoint.history.length > 0 || checkpoint.inProgress !== null);
}

export function resumeCall(
  checkpoint: CallCheckpoint,
  call: { history: History; replies: Replies; log: Logger; bridgeLine: string; ended: () => boolean },
): void {
  const owed = call.history.seed(checkpoint);
  const bridge = call.replies.bridge(checkpoint.nextTurnIndex, call.bridgeLine, owed === "listen");
  call.log.info("call resumed from its checkpoint", {
    resume: checkpoint.resume,
    turn: checkpoint.nextTurnIndex,
    owed,
  });
  if (owed !== "answer") return;
  bridge.on((event) => {
    // Only once the bridge has played out: a caller who spoke over it is answered by their new turn instead.
    if (event.type !== "settled" || bridge.state !== "played" || call.ended()) return;
    const now = performance.now();
    call.replies.onUserTurn("", now, now);
  });
}
