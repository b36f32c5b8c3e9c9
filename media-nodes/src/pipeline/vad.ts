// Local energy VAD on the caller's inbound μ-law. Speech-to-text tells us *what* was said a few hundred
// ms late; this tells us *that* the caller is speaking within a few frames, which is what makes barge-in
// feel immediate. It adapts to the line's noise floor, and while the agent is talking it raises its
// threshold to what an echo of our own audio could reach, so the agent does not interrupt itself. How loud
// that echo can be is learned from the line: it starts at a cautious fixed return loss, and once the line has
// shown (over a second or more of the agent talking) how much of our audio comes back, the threshold sits a
// margin above that. A line with little echo then hears a caller's soft first sounds ("s" of "sorry") at once.
import { mulawToPcm16 } from "../../../shared/audio/mulaw.ts";

/**
 * Each μ-law code's decoded sample, squared: a frame's energy is 160 lookups, with no PCM buffer per
 * frame. Squares of 16-bit samples summed over a frame stay exact in a double, so the level is the same
 * number rmsDbfs(mulawToPcm16(frame)) gives.
 */
const SQUARE = Float64Array.from(mulawToPcm16(Uint8Array.from({ length: 256 }, (_, code) => code)), (s) => s * s);

/** RMS level of a μ-law frame relative to full scale; -Infinity for digital silence or an empty frame. */
export function mulawLevelDbfs(frame: Uint8Array): number {
  const n = frame.length;
  if (n === 0) return Number.NEGATIVE_INFINITY;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) sumSquares += SQUARE[frame[i]!]!;
  const rms = Math.sqrt(sumSquares / n);
  return rms === 0 ? Number.NEGATIVE_INFINITY : 20 * Math.log10(rms / 32_768);
}

export interface VadOptions {
  /** Never call anything quieter than this speech. */
  minSpeechDbfs?: number;
  /** Speech must stand this far above the noise floor. */
  marginDb?: number;
  /** Voiced frames in a row before speech starts (3 = 60 ms). */
  startFrames?: number;
  /** Unvoiced frames in a row before speech ends (10 = 200 ms). */
  hangoverFrames?: number;
  /**
   * How much quieter than our outbound audio an echo is assumed to be at least (echo return loss), until the line
   * has shown its own; and the least that is ever assumed, whatever the line shows.
   */
  echoReturnLossDb?: number;
  /** Learned from the line: an echo is taken to be up to this much louder than the loudest one it has shown. */
  echoMarginDb?: number;
  /** How long our outbound audio can take to come back as echo. */
  echoWindowMs?: number;
}

/**
 * Echo learning. Evidence is an inbound frame that is not the caller (not voiced, not inside their utterance) while
 * our audio of the last echo window was loud enough for its echo to pass for speech at the cautious return loss.
 * Per block of ECHO_BLOCK_FRAMES such frames (half a second), the ECHO_RANK-th smallest loss (our loudest recent
 * level minus the frame's) is kept: a real echo comes back on every loud syllable, a stray quiet sound of the caller
 * is a frame or two and is ignored. The line's return loss is the smallest over the last ECHO_BLOCKS blocks (two
 * seconds of the agent talking), learned once ECHO_MIN_BLOCKS are in.
 */
const ECHO_BLOCK_FRAMES = 25;
const ECHO_RANK = 5;
const ECHO_BLOCKS = 4;
const ECHO_MIN_BLOCKS = 2;
/** No line is taken to return less than this: beyond it, the speech floor decides anyway. */
const ECHO_MAX_LOSS_DB = 60;

export class EnergyVad {
  readonly #o: Required<VadOptions>;
  #noiseFloor = -60;
  #voicedRun = 0;
  #unvoicedRun = 0;
  #speechStartedAt: number | undefined;
  /** Recent outbound frame levels: ring of [time, dBFS]. */
  readonly #outTimes = new Float64Array(32);
  readonly #outLevels = new Float64Array(32).fill(Number.NEGATIVE_INFINITY);
  #outAt = 0;
  /** The ECHO_RANK smallest losses of the block being gathered, ascending (Infinity: none yet). */
  readonly #blockLeast = new Float64Array(ECHO_RANK).fill(Number.POSITIVE_INFINITY);
  #blockFrames = 0;
  /** Each finished block's loss, in a ring; `#blocks` counts how many were ever finished. */
  readonly #blockLoss = new Float64Array(ECHO_BLOCKS);
  #blocks = 0;
  /** The return loss the threshold assumes now (the cautious one until the line has shown its own). */
  #echoLossDb: number;
  speaking = false;
  lastVoicedAt = Number.NEGATIVE_INFINITY;
  lastLevelDbfs = Number.NEGATIVE_INFINITY;

  constructor(opts: VadOptions = {}) {
    this.#o = {
      minSpeechDbfs: opts.minSpeechDbfs ?? -45,
      marginDb: opts.marginDb ?? 12,
      startFrames: opts.startFrames ?? 3,
      hangoverFrames: opts.hangoverFrames ?? 10,
      echoReturnLossDb: opts.echoReturnLossDb ?? 15,
      echoMarginDb: opts.echoMarginDb ?? 6,
      echoWindowMs: opts.echoWindowMs ?? 600,
    };
    this.#echoLossDb = this.#o.echoReturnLossDb;
  }

  /** The echo return loss the VAD assumes now: the cautious default, or what the line has shown less the margin. */
  get echoLossDb(): number {
    return this.#echoLossDb;
  }

  /**
   * Back to the cautious return loss, and learn the line again. A barge-in pause that resumed was a sound over the
   * agent that was no interruption: a back-channel, a cough, or an echo louder than the line had shown (a caller
   * who switched to a speakerphone). Frames taken for speech never teach the VAD, so only this unlearns.
   */
  relearnEcho(): void {
    this.#blockLeast.fill(Number.POSITIVE_INFINITY);
    this.#blockFrames = 0;
    this.#blocks = 0;
    this.#echoLossDb = this.#o.echoReturnLossDb;
  }

  /** Continuous speech so far (0 when silent). */
  speechMs(now: number): number {
    return this.speaking && this.#speechStartedAt !== undefined ? now - this.#speechStartedAt : 0;
  }

  /** Records the level of a frame we sent, so its echo can be told from the caller. */
  noteOutbound(frame: Uint8Array, now: number): void {
    const i = this.#outAt++ % this.#outTimes.length;
    this.#outTimes[i] = now;
    this.#outLevels[i] = mulawLevelDbfs(frame);
  }

  /** The loudest frame we sent within the echo window: what an echo arriving now can at most come from. */
  #echoReference(now: number): number {
    let loudest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.#outTimes.length; i++) {
      if (now - this.#outTimes[i]! <= this.#o.echoWindowMs && this.#outLevels[i]! > loudest)
        loudest = this.#outLevels[i]!;
    }
    return loudest;
  }

  /** A frame that is not the caller, heard while our audio was loud: what the line's echo can be. */
  #learnEcho(loss: number): void {
    const least = this.#blockLeast;
    if (loss < least[ECHO_RANK - 1]!) {
      let i = ECHO_RANK - 1;
      for (; i > 0 && least[i - 1]! > loss; i--) least[i] = least[i - 1]!;
      least[i] = loss;
    }
    if (++this.#blockFrames < ECHO_BLOCK_FRAMES) return;
    this.#blockLoss[this.#blocks++ % ECHO_BLOCKS] = least[ECHO_RANK - 1]!;
    least.fill(Number.POSITIVE_INFINITY);
    this.#blockFrames = 0;
    if (this.#blocks < ECHO_MIN_BLOCKS) return;
    let shown = Number.POSITIVE_INFINITY;
    for (let b = 0; b < Math.min(this.#blocks, ECHO_BLOCKS); b++) shown = Math.min(shown, this.#blockLoss[b]!);
    this.#echoLossDb = Math.min(ECHO_MAX_LOSS_DB, Math.max(this.#o.echoReturnLossDb, shown - this.#o.echoMarginDb));
  }

  /** Feeds one inbound frame (any length up to 160 bytes); returns whether the caller is speaking. */
  process(frame: Uint8Array, now: number): boolean {
    const level = mulawLevelDbfs(frame);
    this.lastLevelDbfs = level;
    const reference = this.#echoReference(now);
    const threshold = Math.max(
      this.#o.minSpeechDbfs,
      this.#noiseFloor + this.#o.marginDb,
      reference - this.#echoLossDb,
    );
    const voiced = level > threshold;
    if (!voiced && !this.speaking && reference - this.#o.echoReturnLossDb > this.#o.minSpeechDbfs) {
      this.#learnEcho(reference - level);
    }
    if (voiced) {
      this.#voicedRun += 1;
      this.#unvoicedRun = 0;
      this.lastVoicedAt = now;
      if (!this.speaking && this.#voicedRun >= this.#o.startFrames) {
        this.speaking = true;
        this.#speechStartedAt = now - (this.#voicedRun - 1) * 20;
      }
    } else {
      this.#unvoicedRun += 1;
      this.#voicedRun = 0;
      // The floor follows quiet frames quickly down and slowly up, so speech never drags it along.
      if (Number.isFinite(level)) {
        const rate = level < this.#noiseFloor ? 0.2 : 0.02;
        this.#noiseFloor += (level - this.#noiseFloor) * rate;
      }
      if (this.speaking && this.#unvoicedRun >= this.#o.hangoverFrames) {
        this.speaking = false;
        this.#speechStartedAt = undefined;
      }
    }
    return this.speaking;
  }
}
