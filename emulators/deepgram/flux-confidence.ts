// How sure Flux is that the caller's turn has ended, as the silence after their speech grows. The emulator cannot
// recognise words, so the script is the semantics: the confidence is capped by what the caller has said (a finished
// line can reach any threshold, a line paused at a `…` stops between the usual eager and end-of-turn thresholds,
// and a part barely begun stays below every threshold), and within that cap it follows the profile's delays.

/** The thresholds the profile's eager and end-of-turn delays are stated for. */
export const REFERENCE_EAGER_THRESHOLD = 0.5;
export const REFERENCE_EOT_THRESHOLD = 0.7;
/** A line paused at a `…`: above the usual eager threshold, below the end-of-turn one. */
export const MID_SENTENCE_CEILING = 0.6;
/** A part barely begun, or a pause inside a clause: below every threshold. */
export const HESITATION_CEILING = 0.2;
export const FINISHED_CEILING = 0.95;

/**
 * End-of-turn confidence after `silenceMs` of silence following a finished line: it reaches the reference eager
 * threshold at `eagerMs`, the reference end-of-turn threshold at `eotMs`, and 0.9 (the highest threshold the service
 * accepts) after as long again twice over, so raising a threshold waits longer and lowering it answers sooner.
 */
export function endOfTurnConfidence(silenceMs: number, eagerMs: number, eotMs: number): number {
  const late = eotMs + 2 * (eotMs - eagerMs);
  const points: [number, number][] = [
    [0, 0],
    [eagerMs, REFERENCE_EAGER_THRESHOLD],
    [eotMs, REFERENCE_EOT_THRESHOLD],
    [late, 0.9],
    [late + 1_000, FINISHED_CEILING],
  ];
  if (silenceMs <= 0) return 0;
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i] as [number, number];
    const [x0, y0] = points[i - 1] as [number, number];
    if (silenceMs <= x1) return x1 === x0 ? y1 : y0 + ((silenceMs - x0) / (x1 - x0)) * (y1 - y0);
  }
  return FINISHED_CEILING;
}
