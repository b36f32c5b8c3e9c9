// What a CallLedger knows about its call, and where it keeps it: the session (state, record, transitions, transfer,
// handoffs, action log, resume bookkeeping) as one JSON value in the object's own SQLite (`SqlKv`, not
// `ctx.storage.kv`, whose use leaks the object's storage: sql-kv.ts), and the shapes the ledger answers with.
import type { CallCheckpoint } from "../../../../shared/call-checkpoint.ts";
import type { SessionEvent } from "../../../../shared/session-events.ts";
import type { SqlKv } from "../sql-kv.ts";
import type { CallRecord } from "./records.ts";
import type { CallState } from "./state-machine.ts";

/** A transfer the media node asked for: armed by the tool, bound to its turn by the action event, done after it. */
export interface PendingTransfer {
  to: string;
  reason?: string | undefined;
  status: "armed" | "bound" | "done" | "failed";
  turnIndex?: number | undefined;
  armedAt: number;
  detail?: string | undefined;
}

/** What the agent did to the outside world on this call, for the console and for support (never a secret). */
export interface ActionLogEntry {
  type: string;
  ok: boolean;
  at: number;
  detail: string;
}

/** The context packet handed to another agent, kept with the call so whoever takes over can read it. */
export interface HandoffRecord {
  agentId: string;
  agentName: string;
  /** The published version the call continues with; the edge acts for it from here on. */
  agentVersion: number;
  /** Its prompt-prefix hash: a node that resumes the call is admitted for this version. */
  prefixHash?: string | undefined;
  at: number;
  /** The conversation as text (tool calls named in brackets): what a person or the next agent reads. */
  context: {
    recentHistory: { role: "user" | "assistant"; text: string }[];
    entities: Record<string, string>;
    intent: string;
    reason: string;
  };
}

export interface SessionSnapshot {
  state: CallState;
  record: CallRecord;
  transitions: { state: CallState; at: number; reason?: string | undefined }[];
  /** Items not yet in Postgres. */
  pending: number;
  leaseHeld: boolean;
  transfer?: PendingTransfer | undefined;
  /** The verification this call started last: check_verification may only check this one. */
  verificationId?: string | undefined;
  handoffs?: HandoffRecord[] | undefined;
  actions?: ActionLogEntry[] | undefined;
  /** Whether the post-call analysis was queued, and how (see analysis.ts). */
  analysisQueued?: "now" | "delayed" | undefined;
  /** Per action type, how many this call has used (for the per-call caps). */
  actionCounts?: Record<string, number> | undefined;
  /** How many times the call was moved to another node after losing its own (0 or absent: never). */
  resumes?: number | undefined;
  /** The last such move, until the new node claims its checkpoint (once) and reports the call started. */
  pendingResume?: PendingResume | undefined;
  /** Facts from the caller's words, the latest set the node reported with a checkpoint. */
  entities?: Record<string, string> | undefined;
  /** After a resume: turns below this index belong to the lost node and are never rewritten by the new one. */
  turnFloor?: number | undefined;
}

/** A call moved to another node: which resume, the nonce of the token minted for it, and whether it was claimed. */
export interface PendingResume {
  resume: number;
  nonce: string;
  nodeId: string;
  fromNodeId: string | null;
  at: number;
  claimedAt?: number | undefined;
}

export type ResumeClaimResult =
  | { ok: true; checkpoint: CallCheckpoint }
  | { ok: false; error: "not-found" | "not-your-call" | "not-live" | "no-resume" | "already-claimed" };

export type SessionResult =
  | { ok: true; snapshot: SessionSnapshot }
  | { ok: false; error: "not-found" }
  | { ok: false; error: "illegal-transition"; from: CallState; to: CallState }
  | { ok: false; error: "mismatch"; message: string }
  | { ok: false; error: "not-live"; state: CallState }
  | { ok: false; error: "not-your-call" };

/** The stream whose end was reported is not the call's current one: a replayed report, which moves nothing. */
export type RerouteResult = SessionResult | { ok: false; error: "stale-stream"; current: number };

/** A live feed message; the first a subscriber gets is `snapshot`. */
export type LiveMessage =
  | { type: "snapshot"; snapshot: SessionSnapshot }
  | { type: "state"; state: CallState; at: number; reason?: string | undefined }
  | { type: "event"; event: SessionEvent }
  | { type: "action"; entry: ActionLogEntry };

/** The session as stored: the snapshot without what is counted on read. */
export type Stored = Omit<SessionSnapshot, "pending">;

/** Longest an action log gets; older entries stay in the audit log and the call's events. */
const MAX_ACTION_LOG = 50;

export class SessionStore {
  constructor(
    private readonly kv: SqlKv,
    private readonly pending: () => number,
  ) {}

  load(): Stored | undefined {
    return this.kv.get<Stored>("session");
  }

  save(stored: Stored): void {
    this.kv.put("session", stored);
  }

  snapshot(stored: Stored): SessionSnapshot {
    return { ...stored, pending: this.pending() };
  }

  /** Appends to the action log (bounded) and saves. */
  log(stored: Stored, entry: ActionLogEntry): void {
    stored.actions = [...(stored.actions ?? []), entry].slice(-MAX_ACTION_LOG);
    this.save(stored);
  }
}
