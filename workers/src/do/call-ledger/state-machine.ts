// The life of one call as the edge sees it. Only forward moves are legal, and `ended` is final; anything else
// is a bug or a replay somewhere and is refused rather than silently rewriting history.
//
//   initiated ──► routed ──► connected ──► in-progress ──► ended
//       │            │            │                          ▲
//       └────────────┴────────────┴──────────────────────────┘  (any live state may end)

export const CALL_STATES = ["initiated", "routed", "connected", "in-progress", "ended"] as const;
export type CallState = (typeof CALL_STATES)[number];

const NEXT: Readonly<Record<CallState, readonly CallState[]>> = {
  initiated: ["routed", "ended"],
  routed: ["connected", "ended"],
  connected: ["in-progress", "ended"],
  "in-progress": ["ended"],
  ended: [],
};

export function canTransition(from: CallState, to: CallState): boolean {
  return NEXT[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: CallState,
    readonly to: CallState,
  ) {
    super(`A call cannot go from ${from} to ${to}`);
    this.name = "IllegalTransitionError";
  }
}

/** The state after moving to `to`; throws IllegalTransitionError for a move the diagram does not have. */
export function transition(from: CallState, to: CallState): CallState {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
  return to;
}
