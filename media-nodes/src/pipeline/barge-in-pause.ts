// The first step of a barge-in: the caller's speech onset while the agent is audible pauses the agent's audio
// at once (the pacer stops sending; nothing is cleared, aborted or dropped, so the carrier plays out the few
// frames it already has and then goes quiet). Turn detection then takes its time over the words: if they pass
// the agent's thresholds the call interrupts (clear, abort, trim — interruption.ts); if the caller goes quiet
// for `resumeAfterQuietMs` with no interruption (a back-channel, a cough, the agent's own echo), playback
// resumes from the frame where it paused. Never a `clear` here: that would lose the audio the caller has yet to
// hear. A caller who keeps making sound without passing the thresholds is resumed over after `maxPauseMs`.

/** The agent's audio, as the pause sees it (AgentAudio implements it). */
export interface PausableAudio {
  audible(now: number): boolean;
  pause(): void;
  resume(): void;
}

/** What turn detection has made of the caller's words so far (UserTurns.wordsOverAgent). */
export type WordsOverAgent = () => { heard: number; meaningful: number };

export interface BargeInPauseOptions {
  /**
   * The caller quiet this long (no voiced frame) with no interruption decided: resume. The back-channel
   * decision's latency: the last voiced frame of an "uh-huh" plus this margin. The recognizer's words come
   * later than this (its final waits for its endpointing), so this is decided on sound alone.
   */
  resumeAfterQuietMs: number;
  /**
   * The caller has said words of their own, not yet enough to interrupt, or speaks again within the utterance
   * after a resume ("Sorry, … wait, …": a back-channel is one burst): the pause holds through the gaps between
   * their words, and resumes only after this much quiet (the recognizer's final has come by then).
   */
  resumeAfterWordsQuietMs: number;
  /** Never hold the agent longer than this on sound that does not pass the thresholds (noise, a long echo). */
  maxPauseMs: number;
}

export type PauseOutcome = "resumed" | "interrupted" | "ended";

/** One pause, from onset to its decision. Times on the performance.now() clock. */
export interface PauseRecord {
  pausedAt: number;
  decidedAt: number;
  outcome: PauseOutcome;
}

export class BargeInPause {
  readonly #audio: PausableAudio;
  #opts: BargeInPauseOptions;
  readonly #onDecided: (record: PauseRecord) => void;
  readonly #words: WordsOverAgent;
  #pausedAt: number | undefined;
  /** The caller's last voiced frame (arrival time) since the pause began. */
  #lastVoicedAt = Number.NEGATIVE_INFINITY;
  /** Voiced frames in a row (a resumed episode pauses again on renewed speech, not on one noisy frame). */
  #voicedRun = 0;
  /** The caller's utterance that caused the last resume is still going on (the VAD has not ended it). */
  #resumedInUtterance = false;
  /** This pause began when the caller spoke again after a resume, in the same utterance. */
  #again = false;

  constructor(
    audio: PausableAudio,
    opts: BargeInPauseOptions,
    onDecided: (record: PauseRecord) => void,
    words: WordsOverAgent = () => ({ heard: 0, meaningful: 0 }),
  ) {
    this.#audio = audio;
    this.#opts = opts;
    this.#onDecided = onDecided;
    this.#words = words;
  }

  /** A handoff brings the other agent's settings. */
  setOptions(opts: BargeInPauseOptions): void {
    this.#opts = opts;
  }

  get paused(): boolean {
    return this.#pausedAt !== undefined;
  }

  /** Speech onset (the local VAD's `speech-started`, or the recognizer's start of turn). Returns whether it paused. */
  onset(now: number): boolean {
    if (this.#pausedAt !== undefined || !this.#audio.audible(now)) return false;
    this.#pausedAt = now;
    this.#lastVoicedAt = now;
    this.#audio.pause();
    return true;
  }

  /**
   * The recognizer's start of turn (Flux `StartOfTurn`): the same onset, often heard after the VAD's. Ignored for an
   * utterance whose pause was already decided as a resume (a late start of turn for an "uh-huh").
   */
  onRecognizerOnset(now: number): boolean {
    return this.#resumedInUtterance ? false : this.onset(now);
  }

  /**
   * Once per caller frame. The VAD reports its onset once per utterance; a caller who resumes talking within
   * its hangover (after the agent resumed) would otherwise be talked over: two voiced frames pause again.
   * Returns whether it paused.
   */
  onCallerFrame(now: number, voiced: boolean, speaking: boolean): boolean {
    this.#voicedRun = voiced ? this.#voicedRun + 1 : 0;
    if (voiced) this.#lastVoicedAt = now;
    if (!speaking) {
      this.#resumedInUtterance = false;
      return false;
    }
    if (!this.#resumedInUtterance || this.#voicedRun < 2 || !this.onset(now)) return false;
    this.#again = true;
    return true;
  }

  /** On the pacer's tick (it ticks while paused): resume once the caller is quiet, or at the bound. */
  tick(now: number): void {
    const pausedAt = this.#pausedAt;
    if (pausedAt === undefined) return;
    const o = this.#opts;
    const bound = this.#again || this.#words().meaningful > 0 ? o.resumeAfterWordsQuietMs : o.resumeAfterQuietMs;
    const quiet = now - Math.max(this.#lastVoicedAt, pausedAt) >= bound;
    if (quiet || now - pausedAt >= this.#opts.maxPauseMs) {
      // Past the bound, the sound goes on (noise, a TV): pausing again on it would stutter the agent.
      this.#resumedInUtterance = quiet;
      this.#decide(now, "resumed");
      this.#audio.resume();
    }
  }

  /**
   * The pause ends another way: the caller's words passed the thresholds ("interrupted"), or anything else
   * stopped the agent ("ended"). The caller of this clears the audio itself; nothing resumes here.
   */
  settle(now: number, outcome: Exclude<PauseOutcome, "resumed">): void {
    this.#resumedInUtterance = false;
    if (this.#pausedAt !== undefined) this.#decide(now, outcome);
  }

  #decide(now: number, outcome: PauseOutcome): void {
    const pausedAt = this.#pausedAt!;
    this.#pausedAt = undefined;
    this.#again = false;
    this.#onDecided({ pausedAt, decidedAt: now, outcome });
  }
}
