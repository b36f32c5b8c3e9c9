// One TenantLimiter per tenant (named by tenant ID): every limit decision for a tenant is serialised through
// this object, so limits are exact and global rather than per data centre.
//
// It holds three small tables in its SQLite storage:
//   buckets  token buckets (API requests, call starts), two numbers each
//   leases   one row per call holding capacity; a lease nobody confirms expires by alarm, so a media node that
//            never connects, or a status callback that never arrives, cannot leak capacity
//   seen     webhook replay keys (CallSid + signature, Telnyx event id, outbound answers) for a short window
//   messages inbound SMS MessageSids, kept for good: Twilio's signature has no timestamp, so a signed YES stays
//            valid forever, and only remembering its MessageSid stops it confirming a consent created later
//            (one short row per inbound SMS to the tenant's numbers)
//
// The object has a single alarm; it is always set to the earliest lease or replay-key expiry.
import { Server } from "partyserver";
import type { CallControlEnv } from "../../call-control-env.ts";
import { limitsForPlan } from "./plans.ts";
import { type BucketPolicy, type BucketState, take } from "./token-bucket.ts";

/** A lease the media node never confirmed is given back after this long (token TTL 60 s plus connect time). */
export const UNREPORTED_LEASE_MS = 90_000;
/** Twilio retries a webhook within seconds; a signed request seen again inside this window is a replay. */
export const REPLAY_WINDOW_MS = 10 * 60_000;

export type AdmitResult =
  | { ok: true; callId: string; expiresAt: number; activeCalls: number }
  | { ok: false; reason: "replay" }
  | { ok: false; reason: "concurrency"; activeCalls: number; maxConcurrentCalls: number }
  | { ok: false; reason: "rate"; retryAfterMs: number };

export interface LeaseView {
  callId: string;
  acquiredAt: number;
  expiresAt: number;
  reported: boolean;
}

export interface ApiTokenResult {
  ok: boolean;
  remaining: number;
  limit: number;
  retryAfterMs: number;
}

type LeaseRow = { call_id: string; acquired_at: number; expires_at: number; reported_at: number | null };

export class TenantLimiter extends Server<CallControlEnv> {
  constructor(ctx: DurableObjectState, env: CallControlEnv) {
    super(ctx, env);
    // In the constructor, not onStart: RPC calls skip partyserver's onStart.
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS leases (
        call_id TEXT PRIMARY KEY, acquired_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, reported_at INTEGER);
      CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (sid TEXT PRIMARY KEY, received_at INTEGER NOT NULL);
    `);
  }

  /**
   * Decides whether a new call may start, and takes its lease if so, atomically: replay check, then the
   * concurrent-call cap, then the call-start bucket. A refused call consumes nothing (no lease, no token).
   * Admitting a call that already holds a lease (without a replay key) is idempotent.
   */
  async admitCall(input: { callId: string; plan: string; replayKey?: string | undefined }): Promise<AdmitResult> {
    const now = Date.now();
    const limits = limitsForPlan(input.plan);
    // Replays first: a replayed webhook names a call that already holds a lease, and must not be handed it again.
    if (input.replayKey !== undefined && !this.#markSeen(input.replayKey, now, REPLAY_WINDOW_MS)) {
      return { ok: false, reason: "replay" };
    }
    const existing = this.#lease(input.callId);
    if (existing)
      return { ok: true, callId: input.callId, expiresAt: existing.expires_at, activeCalls: this.#active(now) };
    const activeCalls = this.#active(now);
    if (activeCalls >= limits.maxConcurrentCalls) {
      return { ok: false, reason: "concurrency", activeCalls, maxConcurrentCalls: limits.maxConcurrentCalls };
    }
    const bucket = this.#take("call-starts", limits.callStarts, now);
    if (!bucket.ok) return { ok: false, reason: "rate", retryAfterMs: bucket.retryAfterMs };
    const expiresAt = now + UNREPORTED_LEASE_MS;
    this.ctx.storage.sql.exec(
      "INSERT INTO leases (call_id, acquired_at, expires_at, reported_at) VALUES (?, ?, ?, NULL)",
      input.callId,
      now,
      expiresAt,
    );
    await this.#scheduleAlarm();
    return { ok: true, callId: input.callId, expiresAt, activeCalls: activeCalls + 1 };
  }

  /**
   * The media node has the call: the lease now lives until the call ends, capped by the plan's longest call.
   * False when the lease is gone (expired or released), which the caller logs: the call runs uncounted.
   */
  async confirmLease(callId: string, plan: string): Promise<boolean> {
    const lease = this.#lease(callId);
    if (!lease) return false;
    if (lease.reported_at !== null) return true;
    const now = Date.now();
    this.ctx.storage.sql.exec(
      "UPDATE leases SET reported_at = ?, expires_at = ? WHERE call_id = ?",
      now,
      lease.acquired_at + limitsForPlan(plan).maxCallDurationMs,
      callId,
    );
    await this.#scheduleAlarm();
    return true;
  }

  /** Gives the call's capacity back. Idempotent; true when a lease was actually held. */
  async releaseLease(callId: string): Promise<boolean> {
    const released = this.ctx.storage.sql.exec("DELETE FROM leases WHERE call_id = ?", callId).rowsWritten > 0;
    if (released) await this.#scheduleAlarm();
    return released;
  }

  /** True the first time `key` is seen within `windowMs`; used for Telnyx event and outbound answer de-duplication. */
  async firstSighting(key: string, windowMs: number = REPLAY_WINDOW_MS): Promise<boolean> {
    const first = this.#markSeen(key, Date.now(), windowMs);
    if (first) await this.#scheduleAlarm();
    return first;
  }

  /**
   * True the first time this inbound message is seen, ever. Unlike `firstSighting` there is no window: a replay
   * a year later is still a replay.
   */
  async firstMessage(messageSid: string): Promise<boolean> {
    return (
      this.ctx.storage.sql.exec(
        "INSERT INTO messages (sid, received_at) VALUES (?, ?) ON CONFLICT (sid) DO NOTHING",
        messageSid,
        Date.now(),
      ).rowsWritten > 0
    );
  }

  /** Undoes `firstMessage` when the message could not be acted on, so the carrier's retry is not a replay. */
  async forgetMessage(messageSid: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM messages WHERE sid = ?", messageSid);
  }

  /** One token from the tenant's API-request bucket. */
  async takeApiToken(plan: string): Promise<ApiTokenResult> {
    const policy = limitsForPlan(plan).apiRequests;
    const result = this.#take("api-requests", policy, Date.now());
    return {
      ok: result.ok,
      remaining: result.remaining,
      limit: policy.capacity,
      retryAfterMs: result.ok ? 0 : result.retryAfterMs,
    };
  }

  async leases(): Promise<LeaseView[]> {
    const now = Date.now();
    return this.ctx.storage.sql
      .exec<LeaseRow>("SELECT * FROM leases WHERE expires_at > ? ORDER BY acquired_at", now)
      .toArray()
      .map((row) => ({
        callId: row.call_id,
        acquiredAt: row.acquired_at,
        expiresAt: row.expires_at,
        reported: row.reported_at !== null,
      }));
  }

  /** Drops leases and replay keys that are due at `now`; what the alarm runs. Returns the expired call IDs. */
  async sweep(now: number = Date.now()): Promise<string[]> {
    const rows = this.ctx.storage.sql
      .exec<{ call_id: string; reported_at: number | null }>(
        "DELETE FROM leases WHERE expires_at <= ? RETURNING call_id, reported_at",
        now,
      )
      .toArray();
    this.ctx.storage.sql.exec("DELETE FROM seen WHERE expires_at <= ?", now);
    // Either means an end was never reported (a lost status callback, a node that never connected): worth a look.
    const unreported = rows.filter((row) => row.reported_at === null).map((row) => row.call_id);
    const overlong = rows.filter((row) => row.reported_at !== null).map((row) => row.call_id);
    if (rows.length > 0) console.warn("tenant-limiter: leases expired", { tenant: this.name, unreported, overlong });
    const expired = rows.map((row) => row.call_id);
    await this.#scheduleAlarm();
    return expired;
  }

  override async onAlarm(): Promise<void> {
    await this.sweep(Date.now());
  }

  #lease(callId: string): LeaseRow | undefined {
    return this.ctx.storage.sql.exec<LeaseRow>("SELECT * FROM leases WHERE call_id = ?", callId).toArray()[0];
  }

  #active(now: number): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM leases WHERE expires_at > ?", now).one()
      .n;
  }

  #markSeen(key: string, now: number, windowMs: number): boolean {
    const row = this.ctx.storage.sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM seen WHERE key = ?", key)
      .toArray()[0];
    if (row && row.expires_at > now) return false;
    this.ctx.storage.sql.exec(
      "INSERT INTO seen (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at",
      key,
      now + windowMs,
    );
    return true;
  }

  #take(name: string, policy: BucketPolicy, now: number) {
    const row = this.ctx.storage.sql
      .exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM buckets WHERE name = ?", name)
      .toArray()[0];
    const state: BucketState | undefined = row ? { tokens: row.tokens, updatedAt: row.updated_at } : undefined;
    const result = take(state, policy, now);
    this.ctx.storage.sql.exec(
      "INSERT INTO buckets (name, tokens, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
      name,
      result.state.tokens,
      result.state.updatedAt,
    );
    return result;
  }

  async #scheduleAlarm(): Promise<void> {
    const next = this.ctx.storage.sql
      .exec<{ at: number | null }>(
        "SELECT min(at) AS at FROM (SELECT min(expires_at) AS at FROM leases UNION ALL SELECT min(expires_at) FROM seen)",
      )
      .one().at;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current !== next) await this.ctx.storage.setAlarm(next);
  }
}
