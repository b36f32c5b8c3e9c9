// Supervision: the caller must never sit in silence the platform could fill. On the pacer's tick (once a frame,
// no timer of its own) it watches for dead air while the agent owes a reply, and for a recognizer that stalled
// while the caller spoke, and plays the filler line.
import type { Reply } from "./reply.ts";

export const MAX_FILLERS_PER_TURN = 3;
const FRAME_MS = 20;

/** What supervision reads, at the tick. */
export interface SupervisionView {
  /** The reply in progress, if any. */
  reply(): Reply | undefined;
  queuedBytes(): number;
  lastFrameAt(): number;
  agentAudible(now: number): boolean;
  callerSpeaking(): boolean;
}

export interface SupervisionOptions {
  deadAirMs: number;
  /** Plays the filler line for `reply` (or with no reply in progress, on its own). */
  playFiller(reply: Reply | undefined, why: "dead-air" | "stt-stall"): void;
}

export class Supervision {
  readonly #view: SupervisionView;
  readonly #opts: SupervisionOptions;
  /** The recognizer stalled: a filler is owed once the caller stops and the agent is quiet. */
  #stallFillerOwed = false;

  constructor(view: SupervisionView, opts: SupervisionOptions) {
    this.#view = view;
    this.#opts = opts;
  }

  /** The recognizer stalled and is being reopened. */
  noteSttStall(): void {
    this.#stallFillerOwed = true;
  }

  tick(now: number): void {
    const reply = this.#view.reply();
    if (this.#stallFillerOwed && !this.#view.callerSpeaking() && !this.#view.agentAudible(now)) {
      this.#stallFillerOwed = false;
      const open = reply && !reply.settled ? reply : undefined;
      if (open) open.fillers += 1;
      this.#opts.playFiller(open, "stt-stall");
      return;
    }
    this.#deadAir(now, reply);
  }

  /**
   * Dead air: the agent owes a reply and the caller has heard nothing for deadAirMs, counted from the end of
   * their speech (recognition latency is silence the caller hears too) or the last frame played.
   */
  #deadAir(now: number, reply: Reply | undefined): void {
    if (!reply || reply.settled || !reply.owesReply) return;
    if (this.#view.queuedBytes() > 0 || reply.fillers >= MAX_FILLERS_PER_TURN) return;
    const t = reply.times;
    const since = Math.max(this.#view.lastFrameAt(), t.speechEndAt ?? t.sttFinalAt ?? reply.startedAt);
    // Checked once a frame: fire on the last tick before the limit, so the line is already playing at it.
    if (now - since < this.#opts.deadAirMs - FRAME_MS) return;
    reply.fillers += 1;
    this.#opts.playFiller(reply, "dead-air");
  }
}
