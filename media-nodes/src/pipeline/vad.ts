// Local energy VAD on the caller's inbound μ-law. Speech-to-text tells us *what* was said a few hundred
// ms late; this tells us *that* the caller is speaking within a few frames, which is what makes barge-in
// feel immediate. It adapts to the line's noise floor, and while the agent is talking it raises its
// threshold to what an echo of our own audio could reach, so the agent does not interrupt itself.
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
  /** How much quieter than our outbound audio an echo is assumed to be at least (echo return loss). */
  echoReturnLossDb?: number;
  /** How long our outbound audio can take to come back as echo. */
  echoWindowMs?: number;
}

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
      echoWindowMs: opts.echoWindowMs ?? 600,
    };
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

  #echoCeiling(now: number): number {
    let loudest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.#outTimes.length; i++) {
      if (now - this.#outTimes[i]! <= this.#o.echoWindowMs && this.#outLevels[i]! > loudest)
        loudest = this.#outLevels[i]!;
    }
    return loudest - this.#o.echoReturnLossDb;
  }

  /** Feeds one inbound frame (any length up to 160 bytes); returns whether the caller is speaking. */
  process(frame: Uint8Array, now: number): boolean {
    const level = mulawLevelDbfs(frame);
    this.lastLevelDbfs = level;
    const threshold = Math.max(this.#o.minSpeechDbfs, this.#noiseFloor + this.#o.marginDb, this.#echoCeiling(now));
    const voiced = level > threshold;
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
