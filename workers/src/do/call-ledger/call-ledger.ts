// One CallLedger per call (named by call ID): the call's state machine, the place media nodes report to,
// the live feed for console subscribers, and the durable outbox between the call and Postgres.
//
// The outbox is the reason this object exists. Everything the edge learns about a call (its record, each
// finished turn) is first written to this object's SQLite storage in the same step that accepts it, then
// copied to Postgres in order by the alarm, with backoff while Postgres is unreachable. Rows are idempotent
// upserts, so a retry after an ambiguous failure cannot duplicate them.
import { type Connection, Server } from "partyserver";
import { newResourceId } from "../../../../shared/ids.ts";
import type { SessionEvent } from "../../../../shared/session-events.ts";
import type { CallControlEnv } from "../../call-control-env.ts";
import { type DbBindings, openDb } from "../../db/client.ts";
import type { CallStatus } from "../../db/schema.ts";
import { databaseUrlFor, namespaceFor } from "../../residency/residency.ts";
import { DEFAULT_TWILIO_API_BASE, redirectTwilioCall } from "../../telephony/twilio-rest.ts";
import { SqlKv } from "../sql-kv.ts";
import { outboxRetryDelayMs } from "./backoff.ts";
import { upsertCall, upsertTurn } from "./persist.ts";
import { type CallRecord, type TurnRow, turnRows } from "./records.ts";
import { type CallState, canTransition } from "./state-machine.ts";

/** A flush that takes longer than this counts as failed (a half-open connection must not wedge the outbox). */
const FLUSH_TIMEOUT_MS = 15_000;

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
  /** Per action type, how many this call has used (for the per-call caps). */
  actionCounts?: Record<string, number> | undefined;
}

export type SessionResult =
  | { ok: true; snapshot: SessionSnapshot }
  | { ok: false; error: "not-found" }
  | { ok: false; error: "illegal-transition"; from: CallState; to: CallState }
  | { ok: false; error: "mismatch"; message: string }
  | { ok: false; error: "not-live"; state: CallState };

type Stored = Omit<SessionSnapshot, "pending">;
type OutboxItem = { kind: "call"; record: CallRecord } | { kind: "turn"; row: TurnRow };
type OutboxRow = { seq: number; payload: string; attempts: number };

/** A live feed message; the first a subscriber gets is `snapshot`. */
export type LiveMessage =
  | { type: "snapshot"; snapshot: SessionSnapshot }
  | { type: "state"; state: CallState; at: number; reason?: string | undefined }
  | { type: "event"; event: SessionEvent }
  | { type: "action"; entry: ActionLogEntry };

/** Longest an action log gets; older entries stay in the audit log and the call's events. */
const MAX_ACTION_LOG = 50;

export class CallLedger extends Server<CallControlEnv> {
  // Subscribers may stay connected for a whole call; hibernation lets the object sleep between events.
  static override options = { hibernate: true };

  /** Test seam: replace the database connection settings (e.g. point at an unreachable host). */
  dbOverride: Partial<DbBindings> | undefined;
  #flushing: Promise<{ written: number; remaining: number }> | undefined;
  /** Session and outbox state; not `ctx.storage.kv`, whose use leaks the object's storage (sql-kv.ts). */
  readonly #kv: SqlKv;

  constructor(ctx: DurableObjectState, env: CallControlEnv) {
    super(ctx, env);
    const isNew =
      ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'outbox'").one().n ===
      0;
    const { kv, created } = SqlKv.open(ctx.storage.sql);
    this.#kv = kv;
    // An object from before SqlKv (it has an outbox but no kv table): bring its session over, once.
    if (created && !isNew) kv.migrateFrom(() => ctx.storage.kv, ["session", "retryAt", "failures"]);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT);
      CREATE TABLE IF NOT EXISTS events_seen (seq INTEGER PRIMARY KEY);
    `);
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
    return { ok: true, snapshot: this.#snapshot(stored) };
  }

  /** A media node was chosen (outbound calls route when the callee answers, after `open`). */
  async route(input: { region: string; nodeId: string }): Promise<SessionResult> {
    return this.#move("routed", undefined, (record) => ({ ...record, region: input.region, nodeId: input.nodeId }));
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
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (stored.state === "ended") {
      // A later final status from the carrier is more precise than "caller-hung-up" from the node.
      if (stored.record.status !== input.status && input.status !== "completed") {
        stored.record = { ...stored.record, status: input.status };
        this.#save(stored);
        await this.#enqueue([{ kind: "call", record: stored.record }]);
      }
      return { ok: true, snapshot: this.#snapshot(stored) };
    }
    const result = await this.#move("ended", input.reason, (record) => ({
      ...record,
      status: input.status,
      endedAt: Date.now(),
      endReason: input.reason,
    }));
    await this.#releaseLease();
    return result;
  }

  /**
   * A media node's report. Each event's `seq` is applied once (the node retries deliveries). Turns are kept even
   * when they arrive after the call ended: they are data, not a state change.
   */
  async ingest(event: SessionEvent): Promise<SessionResult> {
    const stored = this.#load();
    if (!stored) return { ok: false, error: "not-found" };
    if (event.callId !== stored.record.callId)
      return { ok: false, error: "mismatch", message: "event for another call" };
    if (
      event.type === "call.started" &&
      (event.tenantId !== stored.record.tenantId ||
        (stored.record.agentId !== null && event.agentId !== stored.record.agentId))
    ) {
      return { ok: false, error: "mismatch", message: "call.started names another tenant or agent" };
    }
    const fresh =
      this.ctx.storage.sql.exec("INSERT INTO events_seen (seq) VALUES (?) ON CONFLICT DO NOTHING", event.seq)
        .rowsWritten > 0;
    if (!fresh) return { ok: true, snapshot: this.#snapshot(stored) };
    switch (event.type) {
      case "call.started": {
        if (stored.state === "connected" || stored.state === "in-progress")
          return { ok: true, snapshot: this.#snapshot(stored) };
        const moved = await this.#move("connected", undefined, (record) => ({
          ...record,
          status: "in_progress",
          answeredAt: record.answeredAt ?? event.at,
          region: event.region,
          nodeId: event.nodeId,
        }));
        if (moved.ok) await this.#confirmLease(moved.snapshot.record);
        this.#broadcast({ type: "event", event });
        return moved;
      }
      case "turn": {
        const rows = turnRows(event, stored.record.tenantId, () => newResourceId("turn"));
        await this.#enqueue(rows.map((row) => ({ kind: "turn", row })));
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
        return this.end({ status, reason: event.reason });
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
    await this.flushOutbox();
    const stored = this.#load();
    if (stored?.state === "ended" && stored.leaseHeld) await this.#releaseLease();
  }

  override onConnect(connection: Connection): void {
    const stored = this.#load();
    if (stored)
      connection.send(JSON.stringify({ type: "snapshot", snapshot: this.#snapshot(stored) } satisfies LiveMessage));
  }

  override onMessage(): void {
    // The live feed is one-way; anything a subscriber sends is ignored.
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
      try {
        await redirectTwilioCall(
          { accountSid, authToken, apiBase: this.env.TWILIO_API_BASE ?? DEFAULT_TWILIO_API_BASE },
          callSid,
          transferTwiml(transfer.to),
        );
        stored.transfer = { ...transfer, status: "done" };
        this.#save(stored);
        this.#log(stored, { type: "transfer_call", ok: true, at: Date.now(), detail: `transferred to ${transfer.to}` });
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
    return { ok: true, snapshot: this.#snapshot(latest) };
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
    const due = Math.max(Date.now(), retryAt);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > due) await this.ctx.storage.setAlarm(due);
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
        const write = item.kind === "call" ? upsertCall(db, item.record) : upsertTurn(db, item.row);
        await withTimeout(write, FLUSH_TIMEOUT_MS);
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
      await this.ctx.storage.setAlarm(retryAt);
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
      const current = await this.ctx.storage.getAlarm();
      if (current === null) await this.ctx.storage.setAlarm(Date.now() + 5_000);
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
