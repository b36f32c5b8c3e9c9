// One CallLedger per call (named by call ID): the call's state machine, the place media nodes report to, the live
// feed for console subscribers, and the durable outbox between the call and Postgres (outbox.ts), which is the
// reason this object exists: everything the edge learns about a call is first written to this object's SQLite in the
// same step that accepts it, then copied to Postgres in order by the alarm.
//
// This class is the shell partyserver drives (RPC methods, the live feed's connections, the alarm); each job lives in
// a module of its own and gets the object's parts through a `LedgerCore`: what the node reports (ingest.ts), moving
// the call after a lost node (resumes.ts), the heartbeat watch (node-watch.ts), the tenant's events and the analysis
// hand-off (hand-offs.ts), transfers (transfer.ts), the tenant's lease (lease.ts).
import { type Connection, Server } from "partyserver";
import type { SessionEvent } from "../../../../shared/session-events.ts";
import type { DbBindings } from "../../db/client.ts";
import type { CallStatus } from "../../db/schema.ts";
import { SqlKv } from "../sql-kv.ts";
import type { LedgerCore, LedgerEnv } from "./core.ts";
import { ANALYSIS_GRACE_SECONDS, emitEnded, queueAnalysis } from "./hand-offs.ts";
import { HEARD_TABLE, HeardStore } from "./heard.ts";
import { EVENTS_APPLIED_TABLE, ingest } from "./ingest.ts";
import { releaseLease } from "./lease.ts";
import { checkNode, endIfNeverConnected, watchAt, watchNode } from "./node-watch.ts";
import { OUTBOX_TABLE, Outbox } from "./outbox.ts";
import type { CallRecord } from "./records.ts";
import { claimResume, reroute } from "./resumes.ts";
import {
  type ActionLogEntry,
  type HandoffRecord,
  type LiveMessage,
  type RerouteResult,
  type ResumeClaimResult,
  type SessionResult,
  type SessionSnapshot,
  SessionStore,
  type Stored,
} from "./session.ts";
import { type CallState, canTransition } from "./state-machine.ts";

export { CONNECT_DEADLINE_MS } from "./node-watch.ts";
export type {
  ActionLogEntry,
  HandoffRecord,
  LiveMessage,
  PendingResume,
  PendingTransfer,
  RerouteResult,
  ResumeClaimResult,
  SessionResult,
  SessionSnapshot,
} from "./session.ts";
export { transferTwiml } from "./transfer.ts";

export class CallLedger extends Server<LedgerEnv> {
  // Subscribers may stay connected for a whole call; hibernation lets the object sleep between events.
  static override options = { hibernate: true };

  readonly #core: LedgerCore;

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    const isNew =
      sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'outbox'").one().n === 0;
    const { kv, created } = SqlKv.open(sql);
    // An object from before SqlKv (it has an outbox but no kv table): bring its session over, once.
    if (created && !isNew)
      kv.migrateFrom(() => ctx.storage.kv, ["session", "retryAt", "failures", "watchAt", "heardAt"]);
    sql.exec(OUTBOX_TABLE);
    sql.exec(EVENTS_APPLIED_TABLE);
    sql.exec(HEARD_TABLE);
    const schedule = async (at: number) => {
      const current = await ctx.storage.getAlarm();
      if (current === null || current > at) await ctx.storage.setAlarm(at);
    };
    const outbox = new Outbox({
      sql,
      kv,
      env,
      schedule,
      wakeIfIdle: async () => {
        if ((await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
      },
      name: () => this.name,
    });
    const session = new SessionStore(kv, () => outbox.pending());
    this.#core = {
      env,
      storage: ctx.storage,
      kv,
      session,
      heard: new HeardStore(sql),
      outbox,
      name: () => this.name,
      log: (stored, entry) => {
        session.log(stored, entry);
        this.#broadcast({ type: "action", entry });
      },
      broadcast: (message) => this.#broadcast(message),
      move: (to, reason, update) => this.#move(to, reason, update),
      end: (input, by) => this.#end(input, by),
      schedule,
    };
  }

  /** Test seam: replace the database connection settings (e.g. point at an unreachable host). */
  get dbOverride(): Partial<DbBindings> | undefined {
    return this.#core.outbox.dbOverride;
  }
  set dbOverride(value: Partial<DbBindings> | undefined) {
    this.#core.outbox.dbOverride = value;
  }

  /**
   * Creates the session (idempotent for the same call). `leaseHeld` says whether a TenantLimiter lease was
   * taken for this call, which this object then gives back when the call ends.
   */
  async open(input: {
    record: CallRecord;
    state: Extract<CallState, "initiated" | "routed">;
    leaseHeld: boolean;
  }): Promise<SessionResult> {
    const { session } = this.#core;
    const existing = session.load();
    if (existing) {
      if (existing.record.callId !== input.record.callId || existing.record.tenantId !== input.record.tenantId) {
        return { ok: false, error: "mismatch", message: "session already belongs to another call" };
      }
      return { ok: true, snapshot: session.snapshot(existing) };
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
    session.save(stored);
    await this.#core.outbox.enqueue([{ kind: "call", record: stored.record }]);
    if (input.state === "routed") await watchNode(this.#core);
    return { ok: true, snapshot: session.snapshot(stored) };
  }

  /** A media node was chosen (outbound calls route when the callee answers, after `open`). */
  async route(input: { region: string; nodeId: string }): Promise<SessionResult> {
    const moved = await this.#move("routed", undefined, (record) => ({
      ...record,
      region: input.region,
      nodeId: input.nodeId,
    }));
    if (moved.ok) await watchNode(this.#core);
    return moved;
  }

  /** The call's stream `stream` ended while it was live: it now belongs to `nodeId` (resumes.ts). */
  async reroute(input: { region: string; nodeId: string; nonce: string; stream: number }): Promise<RerouteResult> {
    return reroute(this.#core, input);
  }

  /** The checkpoint, once, for the node the call was moved to (resumes.ts). */
  async claimResume(input: { nodeId: string; nonce: string; resume: number }): Promise<ResumeClaimResult> {
    return claimResume(this.#core, input);
  }

  /** Records the carrier's call identifier once it is known (outbound: after Twilio's REST answer). */
  async setCarrierCallId(providerCallSid: string): Promise<SessionResult> {
    const { session } = this.#core;
    const stored = session.load();
    if (!stored) return { ok: false, error: "not-found" };
    stored.record = { ...stored.record, providerCallSid };
    session.save(stored);
    await this.#core.outbox.enqueue([{ kind: "call", record: stored.record }]);
    return { ok: true, snapshot: session.snapshot(stored) };
  }

  /**
   * Ends the call: final status and reason on the record, lease given back. Ending an ended call is a no-op
   * (the status callback and the media node's `call.ended` both arrive, in either order); the first reason wins.
   */
  async end(input: { status: CallStatus; reason: string }): Promise<SessionResult> {
    return this.#end(input, "edge");
  }

  /** A media node's report (ingest.ts). */
  async ingest(event: SessionEvent, from?: { nodeId: string }): Promise<SessionResult> {
    return ingest(this.#core, event, from);
  }

  /**
   * Arms a transfer the edge has checked (number allowed, Twilio call). Nothing happens until the node's `action`
   * event names the turn, and that turn's event arrives: the redirect then cuts nothing the caller should hear.
   */
  async armTransfer(input: { to: string; reason?: string | undefined }): Promise<SessionResult> {
    const { session } = this.#core;
    const stored = session.load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
    stored.transfer = { to: input.to, reason: input.reason, status: "armed", armedAt: Date.now() };
    session.save(stored);
    return { ok: true, snapshot: session.snapshot(stored) };
  }

  /**
   * Counts one use of `kind` on this call if fewer than `max` were used and the call is live. Claimed before the
   * action runs, so two racing tool calls cannot both pass the cap.
   */
  async claimAction(kind: string, max: number): Promise<"claimed" | "exhausted" | "not-live" | "not-found"> {
    const { session } = this.#core;
    const stored = session.load();
    if (!stored) return "not-found";
    if (stored.state === "ended") return "not-live";
    const counts = stored.actionCounts ?? {};
    const used = counts[kind] ?? 0;
    if (used >= max) return "exhausted";
    stored.actionCounts = { ...counts, [kind]: used + 1 };
    session.save(stored);
    return "claimed";
  }

  /** Logs an action's outcome on the call and tells live subscribers. */
  async recordAction(entry: ActionLogEntry): Promise<void> {
    const stored = this.#core.session.load();
    if (stored) this.#core.log(stored, entry);
  }

  async rememberVerification(verificationId: string): Promise<void> {
    const { session } = this.#core;
    const stored = session.load();
    if (!stored) return;
    stored.verificationId = verificationId;
    session.save(stored);
  }

  /** Keeps the handoff's context packet with the call (durable here, shown in the snapshot and the live feed). */
  async recordHandoff(handoff: HandoffRecord): Promise<SessionResult> {
    const { session } = this.#core;
    const stored = session.load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") return { ok: false, error: "not-live", state: stored.state };
    stored.handoffs = [...(stored.handoffs ?? []), handoff].slice(-10);
    session.save(stored);
    return { ok: true, snapshot: session.snapshot(stored) };
  }

  async snapshot(): Promise<SessionSnapshot | undefined> {
    const stored = this.#core.session.load();
    return stored ? this.#core.session.snapshot(stored) : undefined;
  }

  /** Copies pending items to Postgres in order (outbox.ts). */
  async flushOutbox(): Promise<{ written: number; remaining: number }> {
    return this.#core.outbox.flush(this.#core.session.load()?.record.jurisdiction);
  }

  override async onAlarm(): Promise<void> {
    // One alarm serves the outbox, the lease and the node watch. An alarm that came for the node watch while the
    // outbox is backing off leaves the database alone until its retry time.
    const core = this.#core;
    const now = Date.now();
    const retryAt = core.outbox.retryAt();
    if (retryAt > now && watchAt(core) <= now) await core.schedule(retryAt);
    else await this.flushOutbox();
    const stored = core.session.load();
    if (stored?.state === "ended" && stored.leaseHeld) await releaseLease(core);
    await checkNode(core);
    if (stored?.state === "routed") await endIfNeverConnected(core, stored);
  }

  override onConnect(connection: Connection): void {
    const stored = this.#core.session.load();
    if (stored) {
      const snapshot = this.#core.session.snapshot(stored);
      connection.send(JSON.stringify({ type: "snapshot", snapshot } satisfies LiveMessage));
    }
  }

  override onMessage(): void {
    // The live feed is one-way; anything a subscriber sends is ignored.
  }

  /** `by`: the media node's own `call.ended` (after its last turn), or anything else (carrier, edge). */
  async #end(input: { status: CallStatus; reason: string }, by: "node" | "edge"): Promise<SessionResult> {
    const core = this.#core;
    const stored = core.session.load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") {
      // A later final status from the carrier is more precise than "caller-hung-up" from the node.
      if (stored.record.status !== input.status && input.status !== "completed") {
        stored.record = { ...stored.record, status: input.status };
        core.session.save(stored);
        await core.outbox.enqueue([{ kind: "call", record: stored.record }]);
      }
      if (by === "node") await queueAnalysis(core, 0);
      return { ok: true, snapshot: core.session.snapshot(core.session.load() ?? stored) };
    }
    const result = await this.#move("ended", input.reason, (record) => ({
      ...record,
      status: input.status,
      endedAt: Date.now(),
      endReason: input.reason,
    }));
    if (result.ok) await emitEnded(core, result.snapshot.record);
    await releaseLease(core);
    // The node reports the end after its last turn, so the transcript is complete once the outbox gets there. Ended
    // by the carrier or the edge, the node's last turn may still be on its way: the analysis waits for the node's
    // `call.ended` (which queues it at once) or, if that never comes, for the grace period.
    if (!result.ok) return result;
    await queueAnalysis(core, by === "node" ? 0 : ANALYSIS_GRACE_SECONDS);
    const latest = core.session.load();
    return latest ? { ok: true, snapshot: core.session.snapshot(latest) } : result;
  }

  async #move(
    to: CallState,
    reason?: string,
    update: (record: CallRecord) => CallRecord = (record) => record,
  ): Promise<SessionResult> {
    const { session, outbox } = this.#core;
    const stored = session.load();
    if (!stored) return { ok: false, error: "not-found" };
    if (!canTransition(stored.state, to)) return { ok: false, error: "illegal-transition", from: stored.state, to };
    const at = Date.now();
    stored.state = to;
    stored.transitions.push(reason === undefined ? { state: to, at } : { state: to, at, reason });
    stored.record = update(stored.record);
    session.save(stored);
    await outbox.enqueue([{ kind: "call", record: stored.record }]);
    this.#broadcast({ type: "state", state: to, at, reason });
    return { ok: true, snapshot: session.snapshot(stored) };
  }

  #broadcast(message: LiveMessage): void {
    this.broadcast(JSON.stringify(message));
  }
}
