// The STT fallback (exported from fallback.ts beside the LLM and TTS ones): a fresh recognizer session, with the
// audio it had not confirmed replayed, when the session drops or stalls. The audio replayed has one owner per call:
// a session that keeps its own resend log (the Deepgram sessions: `heldAudio()`) is asked for it, and this keeps no
// copy, only what arrives while the fresh session opens; for any other session it keeps the rings below.
import { AudioLog } from "./audio-log.ts";
import type { SttEvent, SttOptions, SttProvider, SttSession, SttWord, TurnThresholds } from "./types.ts";

export interface SttRecoveryOptions {
  /** Fresh sessions the call may open after the first dies or stalls. Default 2. */
  reopens?: number;
  /** Caller speech going on this long with no result from the recognizer is a stall. Default 2000. */
  stallMs?: number;
  /** Audio kept for replay into a fresh session. Default 3000 (24 KB of μ-law 8 kHz). */
  replayMs?: number;
  /** Told before each fresh session opens (log, metric, a filler for the caller). */
  onRecover?: (info: { cause: "drop" | "stall"; reason: string }) => void;
}

/** A recognizer session that can tell a stall: the caller speaks and nothing comes back. */
export interface ResilientSttSession extends SttSession {
  /** Once per caller frame, with the VAD's verdict on it (arrival time) and its length. */
  heard(now: number, voiced: boolean, frameMs?: number): void;
}

/**
 * Keeps a call's speech recognition alive. When the session dies (after the vendor client's own retries) or
 * stalls (the caller has been speaking for `stallMs` and the recognizer has said nothing), it opens a fresh
 * session and replays the audio the recognizer had not confirmed by a final, so the caller's sentence
 * survives. Word times stay on the call's clock: a fresh session's times are shifted by where its replay began.
 */
export function sttWithRecovery(
  provider: SttProvider,
  opts: SttRecoveryOptions = {},
): { readonly name: string; open(options: SttOptions, onEvent: (e: SttEvent) => void): Promise<ResilientSttSession> } {
  return {
    name: `${provider.name}+recovery`,
    async open(options, onEvent) {
      const session = new RecoveringSttSession(provider, options, onEvent, opts);
      await session.start();
      return session;
    },
  };
}

/**
 * The last `size` bytes of the call's audio at absolute stream positions, in one fixed buffer: no allocation
 * per frame.
 */
class AudioRing {
  readonly #data: Uint8Array;
  /** Absolute position of the first byte ever written here, and one past the last. */
  #start = -1;
  #end = 0;

  constructor(size: number) {
    this.#data = new Uint8Array(size);
  }

  /** The earliest absolute position still held. */
  get from(): number {
    return this.#start < 0 ? this.#end : Math.max(this.#start, this.#end - this.#data.length);
  }

  get end(): number {
    return this.#end;
  }

  /** `audio` begins at absolute position `at` (which continues what was written before). */
  write(audio: Uint8Array, at: number): void {
    const data = this.#data;
    const n = data.length;
    if (this.#start < 0) this.#start = at;
    this.#end = at + audio.length;
    const pos = at % n;
    // The common case, a frame that does not wrap: one copy, no view object (this runs for every frame).
    if (audio.length <= n - pos) {
      data.set(audio, pos);
      return;
    }
    const skip = Math.max(0, audio.length - n);
    for (let i = skip, p = (at + skip) % n; i < audio.length; i++, p = p + 1 === n ? 0 : p + 1) data[p] = audio[i]!;
  }

  /** Hands over the bytes in [from, end) as views into the buffer, oldest first. */
  read(from: number, to: (chunk: Uint8Array) => void): void {
    const n = this.#data.length;
    for (let at = Math.max(from, this.from); at < this.#end; ) {
      const pos = at % n;
      const run = Math.min(this.#end - at, n - pos);
      to(this.#data.subarray(pos, pos + run));
      at += run;
    }
  }

  /** Takes in what `other` holds, at its positions. */
  copyFrom(other: AudioRing): void {
    other.read(other.from, (chunk) => this.write(chunk, this.#end > 0 || this.#start >= 0 ? this.#end : other.from));
  }
}

/** Audio always kept from before the caller's speech starts (the VAD needs a few frames to call it speech). */
const PRE_ROLL_MS = 500;

/** Speech the recognizer has said nothing about, before its silence can be a stall. */
const MIN_UNANSWERED_SPEECH_MS = 1_000;
/** The caller has stopped speaking when the VAD has heard nothing for this long. */
const STOPPED_MS = 500;
/**
 * A session holding the audio keeps this much of the silence after the caller's answered speech, and nothing before
 * it (a word the VAD missed, just begun, still reaches a fresh socket).
 */
const HELD_SILENCE_MS = 1_000;

class RecoveringSttSession implements ResilientSttSession {
  #inner: SttSession | undefined;
  #token = 0;
  #closed = false;
  #recovering = false;
  #reopensLeft: number;
  readonly #stallMs: number;
  readonly #bytesPerSecond: number;
  /**
   * What a fresh session would be sent: the last half second always, and up to `replayMs` while the caller's
   * speech is unanswered or unconfirmed. The larger buffer exists only then (a call is mostly not speech), so
   * an idle call holds 4 KB here, not 24.
   */
  #preRoll: AudioRing | undefined;
  #capture: AudioRing | undefined;
  /** The session keeps the unconfirmed audio itself (heldAudio): no rings here. */
  #sessionHolds = false;
  /** Everything the caller said (by the VAD) has been answered by an end of utterance or turn. */
  #answered = true;
  /** While a fresh session opens (session-held mode): what the old one held, then what arrived since. */
  #reopenLog: AudioLog | undefined;
  /** Stream position where #reopenLog begins. */
  #reopenFrom = 0;
  readonly #captureBytes: number;
  /** Bytes sent since the call began. */
  #written = 0;
  /** Stream position up to which a final confirmed the audio, and where the current session's stream began. */
  #confirmed = 0;
  #sessionStart = 0;
  #offsetSec = 0;
  /** First voiced frame since the recognizer last said anything. */
  #awaitingSince: number | undefined;
  #lastVoicedAt = Number.NEGATIVE_INFINITY;
  #unansweredVoicedMs = 0;
  #thresholds: Partial<TurnThresholds> = {};
  /**
   * Semantic turns count from 0 per session; the call's count goes on across sessions. A fresh session's turn 0
   * continues the turn the old one left open, or is the next one.
   */
  #turnBase = 0;
  #lastTurn: { index: number; ended: boolean } | undefined;

  constructor(
    private readonly provider: SttProvider,
    private readonly options: SttOptions,
    private readonly onEvent: (event: SttEvent) => void,
    private readonly opts: SttRecoveryOptions,
  ) {
    this.#reopensLeft = opts.reopens ?? 2;
    this.#stallMs = opts.stallMs ?? 2_000;
    this.#bytesPerSecond = options.sampleRate * (options.encoding === "linear16" ? 2 : 1);
    this.#captureBytes = Math.round(((opts.replayMs ?? 3_000) * this.#bytesPerSecond) / 1000);
  }

  async start(): Promise<void> {
    const token = ++this.#token;
    const inner = await this.provider.open(this.options, (e) => this.#onInner(token, e));
    this.#inner = inner;
    this.turnDetection = inner.turnDetection;
    this.#sessionHolds = typeof inner.heldAudio === "function" && typeof inner.releaseHeld === "function";
    if (!this.#sessionHolds) this.#preRoll = new AudioRing(Math.round((PRE_ROLL_MS * this.#bytesPerSecond) / 1000));
  }

  turnDetection: SttSession["turnDetection"] = "endpointing";

  /** Thresholds set mid-call: a fresh session gets them too. */
  configure(thresholds: Partial<TurnThresholds>): Promise<TurnThresholds | null> {
    this.#thresholds = { ...this.#thresholds, ...thresholds };
    return this.#inner ? this.#inner.configure(thresholds) : Promise.resolve(null);
  }

  sendAudio(audio: Uint8Array): void {
    if (this.#closed) return;
    this.#keep(audio);
    if (!this.#recovering) this.#inner?.sendAudio(audio);
  }

  heard(now: number, voiced: boolean, frameMs = 20): void {
    if (this.#closed || this.#recovering) return;
    if (voiced) {
      this.#lastVoicedAt = now;
      this.#awaitingSince ??= now;
      this.#unansweredVoicedMs += frameMs;
      this.#answered = false;
      if (this.#preRoll && !this.#capture) {
        this.#capture = new AudioRing(this.#captureBytes);
        this.#capture.copyFrom(this.#preRoll);
      }
    } else if (this.#answered && now - this.#lastVoicedAt >= STOPPED_MS) {
      // The caller stopped and the recognizer ended what they said: nothing left worth replaying but the silence
      // since (the session's own log would otherwise keep it until the next result: a minute, on Flux).
      this.#capture = undefined;
      if (this.#sessionHolds) this.#inner?.releaseHeld?.(Math.round((HELD_SILENCE_MS * this.#bytesPerSecond) / 1000));
    }
    const since = this.#awaitingSince;
    // A cough or a breath may rightly get no answer: only a second of speech with nothing back counts.
    if (since === undefined || this.#unansweredVoicedMs < MIN_UNANSWERED_SPEECH_MS) return;
    const waited = now - since;
    // A working recognizer answers speech with interims while it goes on, and with a final soon after it stops;
    // some go quiet mid-sentence for a while (a long number), so during speech the bar is twice as high.
    const stopped = now - this.#lastVoicedAt >= STOPPED_MS;
    if (waited >= (stopped ? this.#stallMs : 2 * this.#stallMs)) {
      this.#recover("stall", `no result for ${Math.round(waited)} ms since the caller began speaking`);
    }
  }

  finalize(): void {
    if (!this.#recovering) this.#inner?.finalize();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#token += 1;
    const inner = this.#inner;
    this.#inner = undefined;
    await inner?.close();
  }

  #keep(audio: Uint8Array): void {
    if (this.#sessionHolds) this.#reopenLog?.append(audio);
    else {
      this.#preRoll?.write(audio, this.#written);
      this.#capture?.write(audio, this.#written);
    }
    this.#written += audio.length;
  }

  #onInner(token: number, event: SttEvent): void {
    if (token !== this.#token || this.#closed) return;
    if (event.type === "closed") {
      const dead = this.#inner;
      this.#inner = undefined;
      if (this.#reopensLeft > 0) this.#recover("drop", `${event.code} ${event.reason}`, dead);
      else this.onEvent(event);
      return;
    }
    this.#awaitingSince = undefined;
    this.#unansweredVoicedMs = 0;
    const shifted =
      this.#offsetSec === 0 && this.#turnBase === 0 ? event : shift(event, this.#offsetSec, this.#turnBase);
    if ("turnIndex" in shifted) {
      this.#lastTurn = { index: shifted.turnIndex, ended: shifted.type === "turn-ended" };
      if (shifted.type === "turn-ended" && shifted.words.length > 0) {
        const end = shifted.words[shifted.words.length - 1]!.end;
        this.#confirmed = Math.max(this.#confirmed, Math.round(end * this.#bytesPerSecond));
      }
    }
    if (
      shifted.type === "turn-ended" ||
      shifted.type === "utterance-end" ||
      (shifted.type === "final" && shifted.speechFinal)
    ) {
      this.#answered = true;
    }
    if (shifted.type === "final" && shifted.words.length > 0) {
      const end = shifted.words[shifted.words.length - 1]!.end;
      this.#confirmed = Math.max(this.#confirmed, Math.round(end * this.#bytesPerSecond));
    } else if (shifted.type === "utterance-end") {
      this.#confirmed = Math.max(this.#confirmed, Math.round(shifted.lastWordEnd * this.#bytesPerSecond));
    }
    this.onEvent(shifted);
  }

  #recover(cause: "drop" | "stall", reason: string, dead?: SttSession): void {
    if (this.#recovering || this.#closed) return;
    if (this.#reopensLeft <= 0) {
      // Nothing left to try: the call hears about it as a closed session.
      this.#token += 1;
      void this.#inner?.close().catch(() => {});
      this.#inner = undefined;
      this.onEvent({ type: "closed", code: 1011, reason: `speech recognition ${cause}: ${reason}` });
      return;
    }
    this.#reopensLeft -= 1;
    this.#recovering = true;
    this.#awaitingSince = undefined;
    this.#unansweredVoicedMs = 0;
    this.opts.onRecover?.({ cause, reason });
    const old = this.#inner ?? dead;
    if (this.#sessionHolds) this.#holdWhileReopening(old);
    this.#inner = undefined;
    this.#token += 1;
    void old?.close().catch(() => {});
    const token = this.#token;
    this.provider
      .open(this.options, (e) => this.#onInner(token, e))
      .then(
        (session) => {
          if (this.#closed || token !== this.#token) {
            void session.close().catch(() => {});
            return;
          }
          this.#inner = session;
          this.#recovering = false;
          const last = this.#lastTurn;
          if (last) this.#turnBase = last.ended ? last.index + 1 : last.index;
          if (Object.keys(this.#thresholds).length > 0) void session.configure(this.#thresholds).catch(() => {});
          this.#replay(session);
        },
        (err: unknown) => {
          this.#recovering = false;
          this.#reopenLog = undefined;
          if (this.#closed || token !== this.#token) return;
          this.onEvent({ type: "closed", code: 1011, reason: `speech recognition could not reopen: ${String(err)}` });
        },
      );
  }

  /** Takes what the old session held (its newest `replayMs`), for the fresh one; audio arriving meanwhile joins it. */
  #holdWhileReopening(old: SttSession | undefined): void {
    const held = old?.heldAudio?.() ?? [];
    let bytes = 0;
    for (const chunk of held) bytes += chunk.length;
    let skip = Math.max(0, bytes - this.#captureBytes);
    const log = new AudioLog(this.#captureBytes);
    for (const chunk of held) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      log.append(chunk.subarray(skip));
      skip = 0;
    }
    this.#reopenLog = log;
    this.#reopenFrom = this.#written - log.total;
  }

  /** Sends the fresh session what the old one had not confirmed (as much of it as is still held). */
  #replay(session: SttSession): void {
    const log = this.#reopenLog;
    if (log) {
      this.#reopenLog = undefined;
      this.#sessionStart = this.#reopenFrom;
      this.#offsetSec = this.#reopenFrom / this.#bytesPerSecond;
      for (const chunk of log.chunks()) session.sendAudio(chunk);
      return;
    }
    const ring = this.#capture ?? this.#preRoll;
    if (!ring) return;
    const start = Math.max(this.#confirmed, ring.from, this.#sessionStart);
    this.#sessionStart = start;
    this.#offsetSec = start / this.#bytesPerSecond;
    ring.read(start, (chunk) => session.sendAudio(chunk));
  }
}

function shift(event: SttEvent, sec: number, turnBase: number): SttEvent {
  const words = (list: SttWord[]) => list.map((w) => ({ ...w, start: w.start + sec, end: w.end + sec }));
  switch (event.type) {
    case "interim":
      return { ...event, words: words(event.words) };
    case "final":
      return { ...event, words: words(event.words) };
    case "speech-started":
      return { ...event, timestamp: event.timestamp + sec };
    case "utterance-end":
      return { ...event, lastWordEnd: event.lastWordEnd + sec };
    case "turn-started":
      return { ...event, turnIndex: event.turnIndex + turnBase, timestamp: event.timestamp + sec };
    case "turn-eager-end":
      return { ...event, turnIndex: event.turnIndex + turnBase, words: words(event.words) };
    case "turn-ended":
      return { ...event, turnIndex: event.turnIndex + turnBase, words: words(event.words) };
    case "turn-resumed":
      return { ...event, turnIndex: event.turnIndex + turnBase };
    default:
      return event;
  }
}
