// The agent's audio on its way out: the TTS session (through SpeechOutput), the pacer, canned lines, playback
// marks and the grace time for carriers that never echo them, `clear()`, and what the caller actually heard.
// The pacer is the gate: `pause()` holds the audio where it is and `resume()` goes on, for a barge-in that
// pauses before it cuts.
import { performance } from "node:perf_hooks";
import type { MediaMetrics } from "../metrics/media-metrics.ts";
import type { TtsEvent, TtsSession } from "../providers/types.ts";
import { HeardText } from "../session-sink/checkpoints.ts";
import type { WebNotice } from "../transports/types.ts";
import type { AudioCache } from "./audio-cache.ts";
import type { FrameClock } from "./frame-clock.ts";
import { OutboundPacer, type PacerLink } from "./pacer.ts";
import type { CannedSource, Reply } from "./reply.ts";
import { type AudioSource, SpeechOutput } from "./speech-output.ts";

/** The socket side of a call; the server implements it over uWebSockets.js and a transport codec. */
export interface CallLink extends PacerLink {
  sendClear(): void;
  sendNotice(notice: WebNotice): void;
  end(code: number, reason: string): void;
  readonly closed: boolean;
}

export interface AgentAudioDeps {
  link: CallLink;
  metrics: MediaMetrics;
  audioCache: AudioCache;
  clock: Pick<FrameClock, "add" | "remove">;
  /** The call's voice: the TTS session and the cached lines are in it. */
  voice: string;
  /** Every outbound frame (the VAD learns how loud the agent is, to tell its echo from the caller). */
  onFrame(frame: Uint8Array, now: number): void;
  /** Once a frame (supervision's watchdog). */
  onTick(now: number): void;
  /** The reply's audio played to its end. */
  onPlayed(reply: Reply): void;
  onGoodbyePlayed(): void;
  onSlowConsumer(): void;
  /**
   * The carrier echoed a mark: the caller has now heard `text` of turn `index` (the whole reply so far), to be
   * checkpointed so a lost node loses nothing the caller heard.
   */
  onHeard?(index: number, text: string, mark: string): void;
}

/** When a carrier never echoes marks (a browser that ignores them), playback is taken as done this long after the last frame. */
export const PLAYBACK_GRACE_MS = 1_500;
const GOODBYE_MARK = "drain-goodbye";

export interface Cleared {
  /** The caller could hear the agent, so the carrier was told to clear. */
  audible: boolean;
  clearSentAt: number;
  /** What the caller heard of the reply, per round (when one was given). */
  heard: Map<number, string> | undefined;
}

export class AgentAudio {
  readonly pacer: OutboundPacer;
  readonly #speech: SpeechOutput;
  readonly #deps: AgentAudioDeps;
  /** The reply whose audio is being produced or played. */
  #current: Reply | undefined;
  /** A speculative reply whose first clause is being synthesized and held (not yet `begin`). */
  #held: Reply | undefined;
  /** Where the current reply's acknowledgement starts in the pacer's bytes, until its first frame leaves. */
  #ackAt: number | undefined;
  /** Which text each outstanding mark stands for (checkpoints of what was heard). */
  readonly #heard = new HeardText();
  /** Per turn, the text of the clauses marked so far. */
  readonly #markedText = new Map<number, string>();

  constructor(deps: AgentAudioDeps) {
    this.#deps = deps;
    const metrics = deps.metrics;
    this.pacer = new OutboundPacer({
      link: deps.link,
      onLateness: (ms) => {
        metrics.frameLateness.observe(ms);
        metrics.framesSent.inc();
      },
      onFrameSent: (sent, now, frame) => {
        deps.onFrame(frame, now);
        const reply = this.#current;
        if (reply && reply.firstByteAt !== undefined && reply.times.firstAudioOutAt === undefined) {
          if (sent > reply.firstByteAt) reply.times.firstAudioOutAt = now;
        }
        if (reply && this.#ackAt !== undefined && sent > this.#ackAt) {
          reply.times.acknowledgementOutAt ??= now;
          this.#ackAt = undefined;
        }
      },
      onDeferred: () => metrics.framesDeferred.inc(),
      onSlowConsumer: () => {
        metrics.slowConsumers.inc();
        deps.onSlowConsumer();
      },
      onTick: (now) => this.#tick(now),
    });
    this.#speech = new SpeechOutput(
      this.pacer,
      {
        onEnqueue: (index, source, at) => this.#onEnqueue(index, source, at),
        onTtsFirstByte: (index) => {
          const reply = this.#held?.index === index ? this.#held : this.#current;
          if (reply && reply.index === index) reply.times.ttsFirstByteAt ??= performance.now();
        },
        onTurnAudioComplete: (index, endMark) => {
          const reply = this.#current;
          if (reply && reply.index === index) reply.endMark = endMark;
        },
        onClauseMarked: (clause) => this.#markSent(clause.id, clause.turn, clause.text),
      },
      () => performance.now(),
    );
  }

  /** The TTS session opened: the pacer joins the node's clock. */
  attach(tts: TtsSession): void {
    this.#speech.tts = tts;
    this.#deps.clock.add(this.pacer);
  }

  get tts(): TtsSession | undefined {
    return this.#speech.tts;
  }

  onTtsEvent(event: TtsEvent): void {
    this.#speech.onTtsEvent(event);
  }

  /** From now on, audio belongs to `reply`. */
  begin(reply: Reply): void {
    this.#current = reply;
    this.#ackAt = undefined;
  }

  get current(): Reply | undefined {
    return this.#current;
  }

  speak(reply: Reply, round: number, text: string, flush: boolean): void {
    this.#speech.speak(reply.index, round, text, flush);
  }

  /** A speculative reply's first clause: synthesized now, held off the pacer until `commitHeld` or `dropHeld`. */
  speakHeld(reply: Reply, round: number, text: string): void {
    this.#held = reply;
    this.#speech.speakHeld(reply.index, round, text);
  }

  /**
   * `reply` (begun) was confirmed: its held clause plays at once. False if its audio was lost meanwhile (an
   * interruption cleared TTS), so the clause must be said again.
   */
  commitHeld(reply: Reply): boolean {
    if (this.#held === reply) this.#held = undefined;
    return this.#speech.releaseHeld(reply.index);
  }

  /** `reply` was dropped: its held audio is discarded and TTS stops working on it. */
  dropHeld(reply: Reply): void {
    if (this.#held !== reply) return;
    this.#held = undefined;
    this.#speech.dropHeld(reply.index);
  }

  /** A canned line: pre-synthesized when the cache has it, else said through the live TTS session. */
  playLine(reply: Reply, source: CannedSource, text: string): void {
    const audio = this.#deps.audioCache.get(this.#deps.voice, text);
    reply.times.cannedAt ??= performance.now();
    reply.spoke(source, text);
    if (audio) this.#speech.playCanned(reply.index, source, audio, `t${reply.index}${source}${reply.fillers}`);
    else this.#speech.speak(reply.index, -1, text, true);
  }

  /** A cached line with no reply in progress (a stalled recognizer between turns). False when not cached. */
  playLoose(source: CannedSource, text: string): boolean {
    const audio = this.#deps.audioCache.get(this.#deps.voice, text);
    if (!audio || !this.#speech.tts) return false;
    this.#speech.playCanned(-1, source, audio, `loose-${source}-${this.pacer.writtenBytes}`);
    return true;
  }

  /** The drain goodbye; `onGoodbyePlayed` when its mark comes back. Returns false if it is not synthesized. */
  playGoodbye(text: string): number | undefined {
    const audio = this.#deps.audioCache.get(this.#deps.voice, text);
    if (!audio) return undefined;
    this.#speech.playCanned(this.#current?.index ?? 0, "goodbye", audio, GOODBYE_MARK);
    return audio.length / 8;
  }

  /** No more clauses for this reply: its end mark follows its last byte. */
  endReply(reply: Reply): void {
    this.#speech.endTurn(reply.index);
  }

  /** The caller is (about to be) hearing the agent. */
  audible(now: number): boolean {
    if (this.pacer.queuedBytes > 0) return true;
    // The carrier proved the end of the reply played: the agent is done even if its last frame just left.
    if (this.#current?.state === "played") return false;
    return this.pacer.isPlaying(now);
  }

  /** Any audio of `reply` has left for the caller. */
  heardAny(reply: Reply): boolean {
    return reply.firstByteAt !== undefined && this.pacer.sentBytes > reply.firstByteAt;
  }

  /** What the caller may be hearing now, for echo filtering. */
  recentText(): string {
    return this.#speech.recentText();
  }

  /**
   * Stops the agent's audio at once: the carrier's `clear` first (in this event, no queue hop), then the pacer's
   * queue and TTS. `reply`'s heard text is taken before anything is dropped.
   */
  clear(detectedAt: number, reply: Reply | undefined): Cleared {
    const audible = this.audible(detectedAt);
    if (audible) this.#deps.link.sendClear();
    const clearSentAt = performance.now();
    const heard = reply && !reply.settled ? this.#speech.heardByRound(reply.index) : undefined;
    this.pacer.clear();
    this.pacer.resume();
    this.#speech.interrupt();
    // The marks still out stand for audio the caller will never hear.
    this.#heard.cleared();
    return { audible, clearSentAt, heard };
  }

  pause(): void {
    this.pacer.pause();
  }

  resume(): void {
    this.pacer.resume();
  }

  onMark(name: string): void {
    if (name === GOODBYE_MARK) {
      this.#deps.onGoodbyePlayed();
      return;
    }
    this.#speech.onMarkEchoed(name);
    const heard = this.#heard.played(name);
    if (heard) this.#deps.onHeard?.(heard.index, heard.text, name);
    const reply = this.#current;
    if (reply && name === reply.endMark) this.#deps.onPlayed(reply);
  }

  /** Forget the clauses of a settled reply. */
  release(reply: Reply): void {
    this.#speech.release(reply.index);
    this.#markedText.delete(reply.index);
  }

  close(): TtsSession | undefined {
    this.#deps.clock.remove(this.pacer);
    this.pacer.close();
    const tts = this.#speech.tts;
    this.#speech.tts = undefined;
    return tts;
  }

  #markSent(mark: string, index: number, text: string): void {
    const before = this.#markedText.get(index);
    const soFar = (before ? `${before} ${text}` : text).replace(/\s+/g, " ").trim();
    this.#markedText.set(index, soFar);
    this.#heard.sent(mark, index, soFar);
  }

  #tick(now: number): void {
    const reply = this.#current;
    // Playback done without the carrier echoing our end mark (some browsers): don't wait forever.
    if (
      reply &&
      !reply.settled &&
      reply.state === "speaking" &&
      reply.endMark &&
      this.pacer.queuedBytes === 0 &&
      now - this.pacer.lastFrameAt > PLAYBACK_GRACE_MS
    ) {
      this.#deps.onPlayed(reply);
    }
    this.#deps.onTick(now);
  }

  #onEnqueue(index: number, source: AudioSource, at: number): void {
    const reply = this.#current;
    if (reply && reply.index === index && source === "acknowledgement") this.#ackAt ??= at;
    if (!reply || reply.index !== index || reply.firstByteAt !== undefined) return;
    reply.firstByteAt = at;
    reply.firstSource = source;
    // An idle line starts at once rather than waiting up to a frame for this call's clock slot.
    const now = performance.now();
    if (this.pacer.sentBytes === at && now - this.pacer.lastFrameAt > 40) this.pacer.onTick(now, now);
  }
}
