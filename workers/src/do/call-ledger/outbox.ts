// The outbox between a call and Postgres: everything the edge learns about a call (its record, each finished turn,
// its meters, the tenant's events, the analysis hand-off) is written to the CallLedger's SQLite in the same step that
// accepts it, then copied out in order by the alarm, with backoff while Postgres is unreachable. Rows are idempotent
// upserts, so a retry after an ambiguous failure cannot duplicate them.
import type { AnalysisEnv, AnalysisMessage } from "../../analysis/env.ts";
import type { CallControlEnv } from "../../call-control-env.ts";
import { callUsageRows, type UsageRow } from "../../cost/meters.ts";
import { type DbBindings, openDb } from "../../db/client.ts";
import type { Jurisdiction } from "../../db/schema.ts";
import type { EventMessage } from "../../events/messages.ts";
import { sendEvent } from "../../events/publish.ts";
import { databaseUrlFor } from "../../residency/residency.ts";
import type { SqlKv } from "../sql-kv.ts";
import { OUTBOX_BATCH_MS, OUTBOX_FLUSH_AT_ITEMS, outboxRetryDelayMs } from "./backoff.ts";
import { deleteCallerTurn, upsertCall, upsertTurn, upsertUsage } from "./persist.ts";
import type { CallRecord, TurnRow } from "./records.ts";

/** A flush that takes longer than this counts as failed (a half-open connection must not wedge the outbox). */
const FLUSH_TIMEOUT_MS = 15_000;

// Events for the tenant's webhooks ride the same outbox: durable from the step that caused them, sent to the webhook
// queue in order after the call record they describe is in Postgres, never awaited by the call itself.
export type OutboxItem =
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

export const OUTBOX_TABLE = `CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)`;

export interface OutboxDeps {
  sql: SqlStorage;
  /** `retryAt` and `failures` while backing off. */
  kv: SqlKv;
  env: CallControlEnv & AnalysisEnv;
  /** Sets the object's alarm to `at` unless it is due earlier. */
  schedule(at: number): Promise<void>;
  /** Sets the alarm to now if none is set. */
  wakeIfIdle(): Promise<void>;
  /** For log lines. */
  name(): string;
}

export class Outbox {
  /** Test seam: replace the database connection settings (e.g. point at an unreachable host). */
  dbOverride: Partial<DbBindings> | undefined;
  #flushing: Promise<{ written: number; remaining: number }> | undefined;

  constructor(private readonly d: OutboxDeps) {}

  pending(): number {
    return this.d.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  /** While the outbox backs off, when it tries again (0: not backing off). */
  retryAt(): number {
    return this.d.kv.get<number>("retryAt") ?? 0;
  }

  async enqueue(items: OutboxItem[]): Promise<void> {
    if (items.length === 0) return;
    for (const item of items) this.d.sql.exec("INSERT INTO outbox (payload) VALUES (?)", JSON.stringify(item));
    const wait = this.pending() >= OUTBOX_FLUSH_AT_ITEMS ? 0 : Math.min(...items.map(batchWaitMs));
    // While backing off, new items wait for the scheduled retry instead of hammering a database that is down. An
    // alarm already due earlier (an item waiting less, the node watch) takes these along.
    await this.d.schedule(Math.max(Date.now() + wait, this.retryAt()));
  }

  /**
   * Copies pending items to Postgres in order; stops at the first failure and schedules a retry. One flush runs at
   * a time; a caller arriving during one waits for it and then flushes what was enqueued meanwhile.
   */
  async flush(jurisdiction: Jurisdiction | undefined): Promise<{ written: number; remaining: number }> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    const flushing = this.#flush(jurisdiction).finally(() => {
      this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  async #flush(jurisdiction: Jurisdiction | undefined): Promise<{ written: number; remaining: number }> {
    const { sql, kv, env } = this.d;
    const rows = sql.exec<OutboxRow>("SELECT seq, payload, attempts FROM outbox ORDER BY seq").toArray();
    if (!jurisdiction || rows.length === 0) return { written: 0, remaining: rows.length };
    const { db, close } = openDb({
      DATABASE_URL: databaseUrlFor(env, jurisdiction),
      DB_WS_PROXY: env.DB_WS_PROXY,
      ...this.dbOverride,
    });
    let written = 0;
    try {
      for (const row of rows) {
        const item = JSON.parse(row.payload) as OutboxItem;
        await withTimeout(this.#write(db, item), FLUSH_TIMEOUT_MS);
        sql.exec("DELETE FROM outbox WHERE seq = ?", row.seq);
        written++;
      }
      kv.delete("retryAt");
      kv.delete("failures");
    } catch (thrown) {
      const error = describeFailure(thrown);
      const failures = (kv.get<number>("failures") ?? 0) + 1;
      const retryAt = Date.now() + outboxRetryDelayMs(failures);
      kv.put("failures", failures);
      kv.put("retryAt", retryAt);
      const head = rows[written];
      if (head) {
        sql.exec("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?", error, head.seq);
      }
      await this.d.schedule(retryAt);
      console.warn("call-ledger: outbox flush failed, will retry", { call: this.d.name(), failures, error });
    } finally {
      // Closing a pool whose connection never came up can itself reject; that is not news.
      await close().catch(() => undefined);
    }
    const remaining = this.pending();
    // Items enqueued while this flush ran: go again at once (or at the retry time set above).
    if (remaining > 0) await this.d.wakeIfIdle();
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
        await this.d.env.ANALYSIS_QUEUE?.send(
          item.message,
          item.delaySeconds ? { delaySeconds: item.delaySeconds } : undefined,
        );
        return;
      case "event":
        return sendEvent(this.d.env, item.message);
    }
  }
}

function batchWaitMs(item: OutboxItem): number {
  switch (item.kind) {
    case "call":
      return item.record.endedAt === null ? OUTBOX_BATCH_MS.callChange : 0;
    case "analysis":
      return 0;
    case "event":
      return OUTBOX_BATCH_MS.callChange;
    case "turn":
    case "drop-caller-turn":
    case "usage":
      return OUTBOX_BATCH_MS.midCall;
  }
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
