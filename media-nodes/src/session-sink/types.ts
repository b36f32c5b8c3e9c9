import type { SessionEvent } from "../../../shared/session-events.ts";

/**
 * Where a media node hands what it learns about a call (the edge's CallLedger in production). The node
 * never writes Postgres itself. publish() must not throw into the call: a sink that cannot deliver logs
 * and drops (bounded), it never stalls the voice loop.
 */
export interface SessionSink {
  publish(event: SessionEvent): void;
  /** Resolves when everything published so far was delivered or given up on (for drain and tests). */
  flush(timeoutMs?: number): Promise<void>;
}
