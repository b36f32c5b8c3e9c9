// What a CallLedger gives the modules that do its jobs (checkpoints and ingest, the node watch, the tenant's events
// and the analysis hand-off, transfers, leases, resumes): its storage, its outbox, and the few steps that change the
// session. Handed over as a plain object, so none of these steps becomes a method other Workers can call over RPC.
import type { AnalysisEnv } from "../../analysis/env.ts";
import type { CallControlEnv } from "../../call-control-env.ts";
import type { CallStatus } from "../../db/schema.ts";
import type { SqlKv } from "../sql-kv.ts";
import type { HeardStore } from "./heard.ts";
import type { Outbox } from "./outbox.ts";
import type { CallRecord } from "./records.ts";
import type { ActionLogEntry, LiveMessage, SessionResult, SessionStore, Stored } from "./session.ts";
import type { CallState } from "./state-machine.ts";

export type LedgerEnv = CallControlEnv & AnalysisEnv;

export interface LedgerCore {
  readonly env: LedgerEnv;
  readonly storage: DurableObjectStorage;
  readonly kv: SqlKv;
  readonly session: SessionStore;
  readonly heard: HeardStore;
  readonly outbox: Outbox;
  /** The object's name (the call ID), for log lines. */
  name(): string;
  /** Logs an action on the call (saved) and tells live subscribers. */
  log(stored: Stored, entry: ActionLogEntry): void;
  broadcast(message: LiveMessage): void;
  /** Moves the state machine (refusing illegal moves), updates the record, outboxes it, tells subscribers. */
  move(to: CallState, reason?: string, update?: (record: CallRecord) => CallRecord): Promise<SessionResult>;
  /** Ends the call; `by: "node"` when it is the media node's own `call.ended` (after its last turn). */
  end(input: { status: CallStatus; reason: string }, by: "node" | "edge"): Promise<SessionResult>;
  /** Sets the alarm to `at` unless it is already due earlier (one alarm serves several timers). */
  schedule(at: number): Promise<void>;
}
