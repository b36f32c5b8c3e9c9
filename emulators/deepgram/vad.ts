// Energy voice-activity detection on 10 ms frames with an adaptive noise floor, plus a detector for data that
// cannot be audio. Cheap enough to run on hundreds of concurrent 8 kHz streams on one core.

export const FRAME_MS = 10;

export interface FrameStats {
  /** Frame energy in dBFS (-100 for digital silence). */
  db: number;
  /** Lag-1 autocorrelation of the mean-removed frame: near 0 for white noise, high for voiced speech. */
  r1: number;
  /** Mean sample value as a fraction of full scale. */
  mean: number;
}

/** Cuts mono PCM into 10 ms frames and reports their statistics; partial frames wait for more audio. */
export class FrameAnalyzer {
  readonly frameLen: number;
  private readonly frame: Int16Array;
  private fill = 0;

  constructor(
    sampleRate: number,
    private readonly onFrame: (stats: FrameStats) => void,
  ) {
    this.frameLen = Math.max(1, Math.round((sampleRate * FRAME_MS) / 1000));
    this.frame = new Int16Array(this.frameLen);
  }

  push(samples: Int16Array): void {
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(this.frameLen - this.fill, samples.length - i);
      this.frame.set(samples.subarray(i, i + take), this.fill);
      this.fill += take;
      i += take;
      if (this.fill === this.frameLen) {
        this.fill = 0;
        this.onFrame(analyze(this.frame));
      }
    }
  }
}

function analyze(frame: Int16Array): FrameStats {
  const n = frame.length;
  let sum = 0;
  let sumSq = 0;
  let sumLag = 0;
  let prev = frame[0] ?? 0;
  for (let i = 0; i < n; i++) {
    const x = frame[i] ?? 0;
    sum += x;
    sumSq += x * x;
    if (i > 0) sumLag += x * prev;
    prev = x;
  }
  const mean = sum / n;
  const power = sumSq / n;
  const db = power <= 0 ? -100 : Math.max(-100, 10 * Math.log10(power / (32768 * 32768)));
  const variance = sumSq - n * mean * mean;
  const r1 = variance <= 1e-6 ? 1 : (sumLag - (n - 1) * mean * mean) / variance;
  return { db, r1, mean: mean / 32768 };
}

// A frame is voiced when it rises this far above the noise floor and above an absolute gate.
const FLOOR_MARGIN_DB = 12;
const ABSOLUTE_GATE_DB = -50;
// The floor is the quietest frame of the last 1.5 s, but never above this: otherwise speech that starts at the
// first frame (no quiet history yet) would become its own floor and go undetected.
const FLOOR_CAP_DB = -40;
const FLOOR_BLOCK_FRAMES = 10;
const FLOOR_BLOCKS = 15;

/** Noise floor by minimum statistics: the minimum over a sliding window of per-100 ms block minima. */
export class NoiseFloor {
  private readonly blocks: number[] = [];
  private blockMin = Number.POSITIVE_INFINITY;
  private inBlock = 0;

  update(db: number): number {
    this.blockMin = Math.min(this.blockMin, db);
    if (++this.inBlock >= FLOOR_BLOCK_FRAMES) {
      this.blocks.push(this.blockMin);
      if (this.blocks.length > FLOOR_BLOCKS) this.blocks.shift();
      this.blockMin = Number.POSITIVE_INFINITY;
      this.inBlock = 0;
    }
    let floor = this.blockMin;
    for (const b of this.blocks) floor = Math.min(floor, b);
    return Math.min(floor, FLOOR_CAP_DB);
  }

  isVoiced(db: number): boolean {
    const floor = this.update(db);
    return db > Math.max(floor + FLOOR_MARGIN_DB, ABSOLUTE_GATE_DB);
  }
}

// Random bytes decode to loud, uncorrelated noise (or, for text, a large DC offset); telephone speech is
// neither for long. Half a second of such frames in a row is treated as "cannot be decoded as audio".
const GARBAGE_LOUD_DB = -16;
const GARBAGE_MAX_R1 = 0.35;
const GARBAGE_DC = 0.25;
export const GARBAGE_RUN_FRAMES = 50;

export function looksLikeGarbage(stats: FrameStats): boolean {
  if (Math.abs(stats.mean) > GARBAGE_DC) return true;
  return stats.db > GARBAGE_LOUD_DB && Math.abs(stats.r1) < GARBAGE_MAX_R1;
}
