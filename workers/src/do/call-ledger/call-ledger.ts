// One CallLedger per call (named by call ID): the call's state machine, the place media nodes report to,
// the live feed for console subscribers, and the durable outbox between the call and Postgres.
//
// The outbox is the reason this object exists. Everything the edge learns about a call (its record, each
// finished turn) is first written to this object's SQLite storage in the same step that accepts it, then
// copied to Postgres in order by the alarm, with backoff while Postgres is unreachable. Rows are idempotent
// upserts, so a retry after an ambiguous failure cannot duplicate them.
import { type Connection, Server } from "partyserver";
import type { CallCheckpoint } from "../../../../shared/call-checkpoint.ts";
import { newResourceId } from "../../../../shared/ids.ts";
import type { SessionEvent } from "../../../../shared/session-events.ts";
import type { AnalysisEnv, AnalysisMessage } from "../../analysis/env.ts";
import type { CallControlEnv } from "../../call-control-env.ts";
import { callUsageRows, turnUsageRows, type UsageRow } from "../../cost/meters.ts";
import { type DbBindings, openDb } from "../../db/client.ts";
import type { CallStatus } from "../../db/schema.ts";
import type { EventMessage } from "../../events/messages.ts";
import { buildEvent, sendEvent } from "../../events/publish.ts";
import type { EventData, EventType } from "../../events/schemas.ts";
import { databaseUrlFor, namespaceFor } from "../../residency/residency.ts";
import { DEFAULT_TWILIO_API_BASE, redirectTwilioCall } from "../../telephony/twilio-rest.ts";
import type { MediaRegion } from "../media-region/media-region.ts";
import { SqlKv } from "../sql-kv.ts";
import { outboxRetryDelayMs } from "./backoff.ts";
import { HEARD_TABLE, HeardStore } from "./heard.ts";
import { judgeLiveness, LIVENESS_CHECK_MS, MEDIA_NODE_LOST } from "./liveness.ts";
import { hangUpLostCall } from "./lost-call.ts";
import { deleteCallerTurn, upsertCall, upsertTurn, upsertUsage } from "./persist.ts";
import { type CallRecord, checkpointRow, type TurnRow, turnRows } from "./records.ts";
import { type CallState, canTransition } from "./state-machine.ts";

/** A flush that takes longer than this counts as failed (a half-open connection must not wedge the outbox). */
const FLUSH_TIMEOUT_MS = 15_000;

/**
 * How long a routed call may wait for its media node's `call.started`: the call token's 60 s plus connect time,
 * the same span the TenantLimiter gives an unconfirmed lease.
 */
export const CONNECT_DEADLINE_MS = 90_000;

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
  /** Whether the post-call analysis was queued, and how (see #queueAnalysis). */
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

type Stored = Omit<SessionSnapshot, "pending">;
// Events for the tenant's webhooks ride the same outbox: durable from the step that caused them, sent to the webhook
// queue in order after the call record they describe is in Postgres, never awaited by the call itself.
type OutboxItem =
  | { kind: "call"; record: CallRecord }
  | { kind: "turn"; row: TurnRow }
  /** A folded turn's checkpointed caller words, dropped (written after them, so the insert never comes back). */
  | { kind: "drop-caller-turn"; tenantId: string; callId: string; turnIndex: number }
  /** A turn's meters (cost per call): written after the turn's rows, keyed by the turn so a retry overwrites. */
  | { kind: "usage"; tenantId: string; callId: string; rows: UsageRow[] }
  /** Sent to the analysis queue once the ended call and its turns are in Postgres (the outbox is ordered). */
  | { kind: "analysis"; message: AnalysisMessage; delaySeconds?: number }
  | { kind: "event"; message: EventMessage };
type OutboxRow = { seq: number; payload: string; attempts: number };

/** A live feed message; the first a subscriber gets is `snapshot`. */
export type LiveMessage =
  | { type: "snapshot"; snapshot: SessionSnapshot }
  | { type: "state"; state: CallState; at: number; reason?: string | undefined }
  | { type: "event"; event: SessionEvent }
  | { type: "action"; entry: ActionLogEntry };

const turnId = () => newResourceId("turn");

/** How long a call ended by the carrier waits for the media node's last turn before it is analysed anyway. */
const ANALYSIS_GRACE_SECONDS = 30;

/** Longest an action log gets; older entries stay in the audit log and the call's events. */
const MAX_ACTION_LOG = 50;

export class CallLedger extends Server<CallControlEnv & AnalysisEnv> {
  // Subscribers may stay connected for a whole call; hibernation lets the object sleep between events.
  static override options = { hibernate: true };

  /** Test seam: replace the database connection settings (e.g. point at an unreachable host). */
  dbOverride: Partial<DbBindings> | undefined;
  #flushing: Promise<{ written: number; remaining: number }> | undefined;
  /** Session and outbox state; not `ctx.storage.kv`, whose use leaks the object's storage (sql-kv.ts). */
  readonly #kv: SqlKv;

  constructor(ctx: DurableObjectState, env: CallControlEnv & AnalysisEnv) {
    super(ctx, env);
    const isNew =
      ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'outbox'").one().n ===
      0;
    const { kv, created } = SqlKv.open(ctx.storage.sql);
    this.#kv = kv;
    // An object from before SqlKv (it has an outbox but no kv table): bring its session over, once.
    if (created && !isNew)
      kv.migrateFrom(() => ctx.storage.kv, ["session", "retryAt", "failures", "watchAt", "heardAt"]);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT);
      CREATE TABLE IF NOT EXISTS events_applied (epoch INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (epoch, seq));
    `);
    ctx.storage.sql.exec(HEARD_TABLE);
    this.#heard = new HeardStore(ctx.storage.sql);
  }

  readonly #heard: HeardStore;

  /**
   * Creates the session (idempotent for the same call). `leaseHeld` says whether a TenantLimiter lease was
   * taken for this call, which this object then gives back when the call ends.
   */
  async open(input: {
    record: CallRecord;
    state: Extract<CallState, "initiated" | "routed">;
    leaseHeld: boolean;
  }): Promise<SessionResult> {
    const existing = this.#load();
    if (existing) {
      if (existing.record.callId !== input.record.callId || existing.record.tenantId !== input.record.tenantId) {
        return { ok: false, error: "mismatch", message: "session already belongs to another call" };
      }
      return { ok: true, snapshot: this.#snapshot(existing) };
    }
    const now = Date.now();
    const stored: Stored = {
      state: input.state,
      record: input.record,
      transitions:
        input.state === "initiated"
          ? [{ state: "initiated", at: now }]
          : [
              { state: "initiated", at: now },
              { state: "routed", at: now },
            ],
      leaseHeld: input.leaseHeld,
    };
    this.#save(stored);
    await this.#enqueue([{ kind: "call", record: stored.record }]);
    if (input.state === "routed") await this.#watchNode();
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  /** A media node was chosen (outbound calls route when the callee answers, after `open`). */
  async route(input: { region: string; nodeId: string }): Promise<SessionResult> {
    const moved = await this.#move("routed", undefined, (record) => ({
      ...record,
      region: input.region,
      nodeId: input.nodeId,
    }));
    if (moved.ok) await this.#watchNode();
    return moved;
  }

  /**
   * The call's stream ended while the call was live (its node died or was cut off) and the carrier asked what next:
   * the call now belongs to `nodeId`, which is admitted with a resume token whose nonce is `nonce` and may claim the
   * checkpoint once. Events from the lost node are refused from here on.
   */
  async reroute(input: { region: string; nodeId: string; nonce: string; stream: number }): Promise<RerouteResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
    // Each stream's end moves the call once; checked here, in the object's single thread, so two copies of one
    // carrier request racing each other cannot both move it.
    if (input.stream !== (stored.resumes ?? 0))
      return { ok: false, error: "stale-stream", current: stored.resumes ?? 0 };
    const resume = (stored.resumes ?? 0) + 1;
    const fromNodeId = stored.record.nodeId;
    stored.resumes = resume;
    stored.turnFloor = this.#heard.nextTurnIndex();
    stored.pendingResume = { resume, nonce: input.nonce, nodeId: input.nodeId, fromNodeId, at: Date.now() };
    stored.record = { ...stored.record, region: input.region, nodeId: input.nodeId };
    this.#save(stored);
    this.#log(stored, {
      type: "resume",
      ok: true,
      at: Date.now(),
      detail: `media node ${fromNodeId ?? "(none)"} lost; call moved to ${input.nodeId} (resume ${resume})`,
    });
    await this.#enqueue([{ kind: "call", record: stored.record }]);
    await this.#watchNode();
    return { ok: true, snapshot: this.#snapshot(this.#load() ?? stored) };
  }

  /**
   * The checkpoint, for the node the call was moved to, once: `nonce` must be the resume token's. A second claim
   * (a replayed token, on this node or any other) is refused, so two nodes can never both speak for the caller.
   */
  async claimResume(input: { nodeId: string; nonce: string; resume: number }): Promise<ResumeClaimResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live" };
    if (stored.record.nodeId !== input.nodeId) return { ok: false, error: "not-your-call" };
    const pending = stored.pendingResume;
    if (!pending || pending.nonce !== input.nonce || pending.resume !== input.resume) {
      return { ok: false, error: "no-resume" };
    }
    if (pending.claimedAt !== undefined) return { ok: false, error: "already-claimed" };
    stored.pendingResume = { ...pending, claimedAt: Date.now() };
    this.#save(stored);
    this.#touch();
    return { ok: true, checkpoint: this.#checkpoint(stored, pending.resume) };
  }

  /** Records the carrier's call identifier once it is known (outbound: after Twilio's REST answer). */
  async setCarrierCallId(providerCallSid: string): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    stored.record = { ...stored.record, providerCallSid };
    this.#save(stored);
    await this.#enqueue([{ kind: "call", record: stored.record }]);
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  /**
   * Ends the call: final status and reason on the record, lease given back. Ending an ended call is a no-op
   * (the status callback and the media node's `call.ended` both arrive, in either order); the first reason wins.
   */
  async end(input: { status: CallStatus; reason: string }): Promise<SessionResult> {
    return this.#end(input, "edge");
  }

  /** `by`: the media node's own `call.ended` (after its last turn), or anything else (carrier, edge). */
  async #end(input: { status: CallStatus; reason: string }, by: "node" | "edge"): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") {
      // A later final status from the carrier is more precise than "caller-hung-up" from the node.
      if (stored.record.status !== input.status && input.status !== "completed") {
        stored.record = { ...stored.record, status: input.status };
        this.#save(stored);
        await this.#enqueue([{ kind: "call", record: stored.record }]);
      }
      if (by === "node") await this.#queueAnalysis(0);
      return { ok: true, snapshot: this.#snapshot(this.#load() ?? stored) };
    }
    const result = await this.#move("ended", input.reason, (record) => ({
      ...record,
      status: input.status,
      endedAt: Date.now(),
      endReason: input.reason,
    }));
    if (result.ok) await this.#emitEnded(result.snapshot.record);
    await this.#releaseLease();
    // The node reports the end after its last turn, so the transcript is complete once the outbox gets there. Ended
    // by the carrier or the edge, the node's last turn may still be on its way: the analysis waits for the node's
    // `call.ended` (which queues it at once) or, if that never comes, for the grace period.
    if (!result.ok) return result;
    await this.#queueAnalysis(by === "node" ? 0 : ANALYSIS_GRACE_SECONDS);
    const latest = this.#load();
    return latest ? { ok: true, snapshot: this.#snapshot(latest) } : result;
  }

  /**
   * Puts the call's analysis behind everything already in the outbox, once per kind: `now` when the media node
   * reported the end after its last turn, `delayed` as the fallback when something else ended the call.
   */
  async #queueAnalysis(delaySeconds: number): Promise<void> {
    const stored = this.#load();
    if (!stored) return;
    const kind = delaySeconds === 0 ? "now" : "delayed";
    if (stored.analysisQueued === "now" || stored.analysisQueued === kind) return;
    stored.analysisQueued = kind;
    this.#save(stored);
    const { tenantId, callId, jurisdiction } = stored.record;
    await this.#enqueue([{ kind: "analysis", message: { tenantId, callId, jurisdiction }, delaySeconds }]);
  }

  /**
   * A media node's report. Each event's `seq` is applied once (the node retries deliveries). Turns are kept even
   * when they arrive after the call ended: they are data, not a state change.
   */
  async ingest(event: SessionEvent, from?: { nodeId: string }): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (event.callId !== stored.record.callId)
      return { ok: false, error: "mismatch", message: "event for another call" };
    // Checked here, in the object's single thread, so an event of a lost node cannot slip in after a reroute.
    if (from && from.nodeId !== stored.record.nodeId) return { ok: false, error: "not-your-call" };
    const agents = [stored.record.agentId, ...(stored.handoffs ?? []).map((h) => h.agentId)];
    if (
      event.type === "call.started" &&
      (event.tenantId !== stored.record.tenantId || (stored.record.agentId !== null && !agents.includes(event.agentId)))
    ) {
      return { ok: false, error: "mismatch", message: "call.started names another tenant or agent" };
    }
    const index = "index" in event ? event.index : null;
    if (index !== null && index < (stored.turnFloor ?? 0)) {
      return {
        ok: false,
        error: "mismatch",
        message: `turn ${index} was before the resume; number turns from ${stored.turnFloor}`,
      };
    }
    // Each node numbers its events from 0, so a resumed call's events are told apart by the resume they belong to.
    const fresh =
      this.ctx.storage.sql.exec(
        "INSERT INTO events_applied (epoch, seq) VALUES (?, ?) ON CONFLICT DO NOTHING",
        stored.resumes ?? 0,
        event.seq,
      ).rowsWritten > 0;
    if (!fresh) return { ok: true, snapshot: this.#snapshot(stored) };
    this.#touch();
    switch (event.type) {
      case "call.started": {
        if (stored.state === "connected" || stored.state === "in-progress") {
          // A resumed call: the new node has it. Nothing moves; subscribers see it start again.
          this.#broadcast({ type: "event", event });
          return { ok: true, snapshot: this.#snapshot(stored) };
        }
        const moved = await this.#move("connected", undefined, (record) => ({
          ...record,
          status: "in_progress",
          answeredAt: record.answeredAt ?? event.at,
          region: event.region,
          nodeId: event.nodeId,
        }));
        if (moved.ok) {
          await this.#confirmLease(moved.snapshot.record);
          const r = moved.snapshot.record;
          await this.#emit("call.started", {
            callId: r.callId,
            direction: r.direction,
            from: r.fromNumber,
            to: r.toNumber,
            agentId: r.agentId,
            agentVersion: r.agentVersion,
            region: r.region,
            startedAt: new Date(r.answeredAt ?? Date.now()).toISOString(),
          });
        }
        this.#broadcast({ type: "event", event });
        return moved;
      }
      case "turn.caller-final":
      case "turn.agent-heard": {
        if (event.type === "turn.caller-final" && event.entities) {
          stored.entities = event.entities;
          this.#save(stored);
        }
        if (this.#heard.applyCheckpoint(event)) {
          await this.#enqueue([{ kind: "turn", row: checkpointRow(event, stored.record.tenantId, turnId) }]);
          this.#broadcast({ type: "event", event });
        }
        const folded = event.type === "turn.caller-final" ? event.folds : undefined;
        if (folded !== undefined && folded < event.index && folded >= (stored.turnFloor ?? 0)) {
          if (this.#heard.dropFolded(folded)) {
            const { tenantId, callId } = stored.record;
            await this.#enqueue([{ kind: "drop-caller-turn", tenantId, callId, turnIndex: folded }]);
          }
        }
        const moved = stored.state === "connected" ? await this.#move("in-progress") : undefined;
        return moved ?? { ok: true, snapshot: this.#snapshot(this.#load() ?? stored) };
      }
      case "turn": {
        this.#heard.applyTurn(event);
        const rows = turnRows(event, stored.record.tenantId, turnId);
        await this.#enqueue([
          ...rows.map((row): OutboxItem => ({ kind: "turn", row })),
          { kind: "usage", tenantId: stored.record.tenantId, callId: event.callId, rows: turnUsageRows(event) },
        ]);
        this.#broadcast({ type: "event", event });
        const moved = stored.state === "connected" ? await this.#move("in-progress") : undefined;
        // The turn that asked for a transfer has played out (or was cut off): the caller heard the agent's
        // line in the agent's own voice, and now the carrier takes the call elsewhere.
        const transfer = this.#load()?.transfer;
        if (transfer?.status === "bound" && transfer.turnIndex === event.index) return this.#carryOutTransfer();
        return moved ?? { ok: true, snapshot: this.#snapshot(this.#load() ?? stored) };
      }
      case "action": {
        const action = event.action;
        if (action.type === "transfer_call") {
          if (stored.transfer?.status === "armed" && stored.transfer.to === action.to) {
            stored.transfer = { ...stored.transfer, status: "bound", turnIndex: event.turnIndex };
            this.#save(stored);
          } else {
            // The node reports a transfer the edge never agreed to: record it, do nothing.
            this.#log(stored, { type: "transfer_call", ok: false, at: Date.now(), detail: "not armed by the edge" });
          }
        }
        this.#broadcast({ type: "event", event });
        return { ok: true, snapshot: this.#snapshot(this.#load() ?? stored) };
      }
      case "call.ended": {
        this.#broadcast({ type: "event", event });
        const status: CallStatus =
          event.reason === "caller-hung-up" || event.reason === "agent-ended" ? "completed" : "failed";
        return this.#end({ status, reason: event.reason }, "node");
      }
    }
  }

  /**
   * Arms a transfer the edge has checked (number allowed, Twilio call). Nothing happens until the node's `action`
   * event names the turn, and that turn's event arrives: the redirect then cuts nothing the caller should hear.
   */
  async armTransfer(input: { to: string; reason?: string | undefined }): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
    stored.transfer = { to: input.to, reason: input.reason, status: "armed", armedAt: Date.now() };
    this.#save(stored);
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  /**
   * Counts one use of `kind` on this call if fewer than `max` were used and the call is live. Claimed before the
   * action runs, so two racing tool calls cannot both pass the cap.
   */
  async claimAction(kind: string, max: number): Promise<"claimed" | "exhausted" | "not-live" | "not-found"> {
    const stored = this.#load();
    if (!stored) return "not-found";
    if (stored.state === "ended") return "not-live";
    const counts = stored.actionCounts ?? {};
    const used = counts[kind] ?? 0;
    if (used >= max) return "exhausted";
    stored.actionCounts = { ...counts, [kind]: used + 1 };
    this.#save(stored);
    return "claimed";
  }

  /** Logs an action's outcome on the call and tells live subscribers. */
  async recordAction(entry: ActionLogEntry): Promise<void> {
    const stored = this.#load();
    if (stored) this.#log(stored, entry);
  }

  async rememberVerification(verificationId: string): Promise<void> {
    const stored = this.#load();
    if (!stored) return;
    stored.verificationId = verificationId;
    this.#save(stored);
  }

  /** Keeps the handoff's context packet with the call (durable here, shown in the snapshot and the live feed). */
  async recordHandoff(handoff: HandoffRecord): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
    stored.handoffs = [...(stored.handoffs ?? []), handoff].slice(-10);
    this.#save(stored);
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  async snapshot(): Promise<SessionSnapshot | undefined> {
    const stored = this.#load();
    return stored ? this.#snapshot(stored) : undefined;
  }

  /**
   * Copies pending items to Postgres in order; stops at the first failure and schedules a retry. One flush runs at
   * a time; a caller arriving during one waits for it and then flushes what was enqueued meanwhile.
   */
  async flushOutbox(): Promise<{ written: number; remaining: number }> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    const flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  override async onAlarm(): Promise<void> {
    // One alarm serves the outbox, the lease and the node watch. An alarm that came for the node watch while the
    // outbox is backing off leaves the database alone until its retry time.
    const now = Date.now();
    const retryAt = this.#kv.get<number>("retryAt") ?? 0;
    const watchAt = this.#kv.get<number>("watchAt") ?? Number.POSITIVE_INFINITY;
    if (retryAt > now && watchAt <= now) await this.#schedule(retryAt);
    else await this.flushOutbox();
    const stored = this.#load();
    if (stored?.state === "ended" && stored.leaseHeld) await this.#releaseLease();
    await this.#checkNode();
    if (stored?.state === "routed") await this.#endIfNeverConnected(stored);
  }

  /**
   * A call routed to a media node that never reported `call.started` (the carrier gave up on a slow webhook, the
   * token expired unused) is ended as failed once CONNECT_DEADLINE_MS have passed, so no record stays `ringing`.
   */
  async #endIfNeverConnected(stored: Stored): Promise<void> {
    const routedAt = stored.transitions.findLast((t) => t.state === "routed")?.at ?? stored.record.createdAt;
    const deadline = routedAt + CONNECT_DEADLINE_MS;
    if (Date.now() >= deadline) {
      await this.end({ status: "failed", reason: "never-connected" });
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > deadline) await this.ctx.storage.setAlarm(deadline);
  }

  override onConnect(connection: Connection): void {
    const stored = this.#load();
    if (stored)
      connection.send(JSON.stringify({ type: "snapshot", snapshot: this.#snapshot(stored) } satisfies LiveMessage));
  }

  override onMessage(): void {
    // The live feed is one-way; anything a subscriber sends is ignored.
  }

  /** The node showed a sign of life for this call (an event, a claim), or the call was just given to it. */
  #touch(): void {
    this.#kv.put("heardAt", Date.now());
  }

  /** Starts watching the call's node: the clock restarts now, and the alarm looks again in a while. */
  async #watchNode(): Promise<void> {
    this.#touch();
    await this.#watchAgainAt(Date.now() + LIVENESS_CHECK_MS);
  }

  async #watchAgainAt(at: number): Promise<void> {
    this.#kv.put("watchAt", at);
    await this.#schedule(at);
  }

  /**
   * The heartbeat timeout: a live call whose node has been silent (no event for the call, no heartbeat to its
   * region) for too long, and that the carrier did not move elsewhere, ends as `media_node_lost`: the carrier is
   * told to hang up, the lease goes back, and the record is final. Never left `in_progress`.
   */
  async #checkNode(): Promise<void> {
    const stored = this.#load();
    if (!stored || stored.state === "ended" || stored.state === "initiated") return;
    const { nodeId, region, jurisdiction } = stored.record;
    if (!nodeId || !region) return;
    const now = Date.now();
    const heardAt = this.#kv.get<number>("heardAt") ?? stored.transitions.at(-1)?.at ?? now;
    let verdict = judgeLiveness({ now, heardAt, lastSeenAt: undefined });
    let directory: DurableObjectStub<MediaRegion> | undefined;
    if (!verdict.alive) {
      directory = namespaceFor(this.env.MEDIA_REGION, this.env, jurisdiction).getByName(region);
      const node = await directory.node(nodeId).then(
        (n) => n,
        () => null,
      );
      verdict = judgeLiveness({ now, heardAt, lastSeenAt: node === null ? null : node?.lastSeenAt });
    }
    if (verdict.alive) {
      await this.#watchAgainAt(verdict.checkAgainAt);
      return;
    }
    console.warn("call-ledger: media node lost, ending the call", { call: this.name, nodeId });
    await directory?.markLost(nodeId).catch(() => undefined);
    this.#log(stored, {
      type: "media_node_lost",
      ok: false,
      at: now,
      detail: `media node ${nodeId} silent since ${new Date(verdict.silentSince).toISOString()}`,
    });
    await hangUpLostCall(this.env, stored.record);
    await this.end({ status: "failed", reason: MEDIA_NODE_LOST });
  }

  #checkpoint(stored: Stored, resume: number): CallCheckpoint {
    const handoff = stored.handoffs?.at(-1);
    const record = stored.record;
    const current =
      handoff?.agentVersion && handoff.prefixHash
        ? { agentId: handoff.agentId, agentVersion: handoff.agentVersion, prefixHash: handoff.prefixHash }
        : {
            agentId: record.agentId ?? "",
            agentVersion: record.agentVersion ?? 0,
            prefixHash: record.prefixHash ?? "",
          };
    return {
      callId: record.callId,
      tenantId: record.tenantId,
      ...current,
      resume,
      entities: { ...handoff?.context.entities, ...stored.entities },
      ...this.#heard.checkpoint(),
    };
  }

  /** Sets the alarm to `at` unless it is already due earlier (one alarm serves several timers). */
  async #schedule(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  async #move(
    to: CallState,
    reason?: string,
    update: (record: CallRecord) => CallRecord = (record) => record,
  ): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (!canTransition(stored.state, to)) return { ok: false, error: "illegal-transition", from: stored.state, to };
    const at = Date.now();
    stored.state = to;
    stored.transitions.push(reason === undefined ? { state: to, at } : { state: to, at, reason });
    stored.record = update(stored.record);
    this.#save(stored);
    await this.#enqueue([{ kind: "call", record: stored.record }]);
    this.#broadcast({ type: "state", state: to, at, reason });
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  /** Redirects the live Twilio call to the transfer number, then ends our part of the call with that reason. */
  async #carryOutTransfer(): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored?.transfer) return { ok: false, error: "not-found" };
    const transfer = stored.transfer;
    const { TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken } = this.env;
    const callSid = stored.record.providerCallSid;
    let detail: string;
    if (!accountSid || !authToken || stored.record.provider !== "twilio" || !callSid) {
      detail = "the call cannot be redirected (not a Twilio call, or Twilio is not configured)";
    } else {
      await this.#emit("transfer.started", {
        callId: stored.record.callId,
        to: transfer.to,
        reason: transfer.reason ?? null,
      });
      try {
        await redirectTwilioCall(
          { accountSid, authToken, apiBase: this.env.TWILIO_API_BASE ?? DEFAULT_TWILIO_API_BASE },
          callSid,
          transferTwiml(transfer.to),
        );
        stored.transfer = { ...transfer, status: "done" };
        this.#save(stored);
        this.#log(stored, { type: "transfer_call", ok: true, at: Date.now(), detail: `transferred to ${transfer.to}` });
        await this.#emit("transfer.ended", {
          callId: stored.record.callId,
          to: transfer.to,
          outcome: "redirected",
          detail: null,
        });
        return this.end({ status: "completed", reason: `transferred to ${transfer.to}` });
      } catch (error) {
        detail = `Twilio refused the redirect: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    // The caller stays with the agent; the node is not told (the model already spoke), so say it loudly here.
    console.warn("call-ledger: transfer failed", { call: this.name, detail });
    const latest = this.#load() ?? stored;
    latest.transfer = { ...transfer, status: "failed", detail };
    this.#save(latest);
    this.#log(latest, { type: "transfer_call", ok: false, at: Date.now(), detail });
    await this.#emit("transfer.ended", { callId: latest.record.callId, to: transfer.to, outcome: "failed", detail });
    return { ok: true, snapshot: this.#snapshot(latest) };
  }

  /** Queues an event for the tenant's webhooks through the outbox (sent by the alarm, never awaited by the call). */
  async #emit<T extends EventType>(type: T, data: EventData<T>): Promise<void> {
    const stored = this.#load();
    if (!stored) return;
    const message = buildEvent({ id: stored.record.tenantId, jurisdiction: stored.record.jurisdiction }, type, data);
    await this.#enqueue([{ kind: "event", message }]);
  }

  async #emitEnded(record: CallRecord): Promise<void> {
    const endedAt = record.endedAt ?? Date.now();
    const base = (this.env.PUBLIC_BASE_URL ?? "").replace(/\/+$/, "");
    await this.#emit("call.ended", {
      callId: record.callId,
      direction: record.direction,
      from: record.fromNumber,
      to: record.toNumber,
      agentId: record.agentId,
      status: record.status,
      endReason: record.endReason,
      startedAt: record.answeredAt === null ? null : new Date(record.answeredAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationSeconds: record.answeredAt === null ? 0 : Math.max(0, (endedAt - record.answeredAt) / 1000),
      transcriptUrl: `${base}/v1/calls/${record.callId}`,
    });
  }

  #log(stored: Stored, entry: ActionLogEntry): void {
    stored.actions = [...(stored.actions ?? []), entry].slice(-MAX_ACTION_LOG);
    this.#save(stored);
    this.#broadcast({ type: "action", entry });
  }

  #load(): Stored | undefined {
    return this.#kv.get<Stored>("session");
  }

  #save(stored: Stored): void {
    this.#kv.put("session", stored);
  }

  #snapshot(stored: Stored): SessionSnapshot {
    const pending = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
    return { ...stored, pending };
  }

  #broadcast(message: LiveMessage): void {
    this.broadcast(JSON.stringify(message));
  }

  async #enqueue(items: OutboxItem[]): Promise<void> {
    for (const item of items)
      this.ctx.storage.sql.exec("INSERT INTO outbox (payload) VALUES (?)", JSON.stringify(item));
    // While backing off, new items wait for the scheduled retry instead of hammering a database that is down.
    const retryAt = this.#kv.get<number>("retryAt") ?? 0;
    await this.#schedule(Math.max(Date.now(), retryAt));
  }

  async #flush(): Promise<{ written: number; remaining: number }> {
    const stored = this.#load();
    const rows = this.ctx.storage.sql
      .exec<OutboxRow>("SELECT seq, payload, attempts FROM outbox ORDER BY seq")
      .toArray();
    if (!stored || rows.length === 0) return { written: 0, remaining: rows.length };
    const { db, close } = openDb({
      DATABASE_URL: databaseUrlFor(this.env, stored.record.jurisdiction),
      DB_WS_PROXY: this.env.DB_WS_PROXY,
      ...this.dbOverride,
    });
    let written = 0;
    try {
      for (const row of rows) {
        const item = JSON.parse(row.payload) as OutboxItem;
        await withTimeout(this.#write(db, item), FLUSH_TIMEOUT_MS);
        this.ctx.storage.sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
        written++;
      }
      this.#kv.delete("retryAt");
      this.#kv.delete("failures");
    } catch (thrown) {
      const error = describeFailure(thrown);
      const failures = (this.#kv.get<number>("failures") ?? 0) + 1;
      const retryAt = Date.now() + outboxRetryDelayMs(failures);
      this.#kv.put("failures", failures);
      this.#kv.put("retryAt", retryAt);
      const head = rows[written];
      if (head) {
        this.ctx.storage.sql.exec(
          "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
          error,
          head.seq,
        );
      }
      await this.#schedule(retryAt);
      console.warn("call-ledger: outbox flush failed, will retry", { call: this.name, failures, error });
    } finally {
      // Closing a pool whose connection never came up can itself reject; that is not news.
      await close().catch(() => undefined);
    }
    const remaining = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
    // Items enqueued while this flush ran: go again at once (or at the retry time set above).
    if (remaining > 0 && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    return { written, remaining };
  }

  async #write(db: Parameters<typeof upsertCall>[0], item: OutboxItem): Promise<void> {
    switch (item.kind) {
      case "call":
        await upsertCall(db, item.record);
        // An ended call's connected time: carrier minutes, STT seconds, media-node time (cost per call).
        await upsertUsage(db, item.record.tenantId, item.record.callId, callUsageRows(item.record));
        return;
      case "turn":
        return upsertTurn(db, item.row);
      case "drop-caller-turn":
        return deleteCallerTurn(db, item);
      case "usage":
        return upsertUsage(db, item.tenantId, item.callId, item.rows);
      case "analysis":
        // No queue bound (a deployment without analysis): nothing to send.
        await this.env.ANALYSIS_QUEUE?.send(
          item.message,
          item.delaySeconds ? { delaySeconds: item.delaySeconds } : undefined,
        );
        return;
      case "event":
        return sendEvent(this.env, item.message);
    }
  }

  #limiter(record: CallRecord) {
    return namespaceFor(this.env.TENANT_LIMITER, this.env, record.jurisdiction).getByName(record.tenantId);
  }

  async #confirmLease(record: CallRecord): Promise<void> {
    const stored = this.#load();
    if (!stored?.leaseHeld) return;
    try {
      await this.#limiter(record).confirmLease(record.callId, record.plan);
    } catch (error) {
      // The lease then expires on its short timer; the call itself goes on.
      console.warn("call-ledger: could not confirm lease", { call: this.name, error: String(error) });
    }
  }

  async #releaseLease(): Promise<void> {
    const stored = this.#load();
    if (!stored?.leaseHeld) return;
    try {
      await this.#limiter(stored.record).releaseLease(stored.record.callId);
      stored.leaseHeld = false;
      this.#save(stored);
    } catch (error) {
      // Still held: the alarm tries again, and the limiter's own expiry is the last resort.
      console.warn("call-ledger: could not release lease, will retry", { call: this.name, error: String(error) });
      await this.#schedule(Date.now() + 5_000);
    }
  }
}

/** The TwiML a transferred call runs: dial the number (E.164, checked, so nothing here needs escaping). */
export function transferTwiml(to: string): string {
  if (!/^\+[1-9]\d{6,14}$/.test(to)) throw new Error("transfer target must be E.164");
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${to}</Dial></Response>`;
}

/**
 * The reason a write failed, without the statement's parameters (drizzle puts them in its message, and they hold
 * phone numbers and transcripts that do not belong in logs).
 */
function describeFailure(thrown: unknown): string {
  const cause = thrown instanceof Error && thrown.cause !== undefined ? thrown.cause : thrown;
  const text =
    cause instanceof Error
      ? `${cause.name}: ${cause.message}`
      : typeof cause === "object" && cause !== null && "message" in cause
        ? String(cause.message)
        : String(cause);
  return text.split("\nparams:")[0]?.slice(0, 300) ?? "unknown error";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database write timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
