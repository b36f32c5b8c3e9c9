import { type SessionEvent, SessionEventSchema } from "../../../shared/session-events.ts";
import type { SessionSink } from "./types.ts";

/** Keeps every event, validated against the shared schema, so tests see exactly what the edge would. */
export class InMemorySessionSink implements SessionSink {
  readonly events: SessionEvent[] = [];
  readonly #waiters = new Set<{ check: () => boolean; resolve: () => void }>();

  publish(event: SessionEvent): void {
    // Parsing here catches an event the edge would reject, in every test that uses this sink.
    this.events.push(SessionEventSchema.parse(event));
    for (const waiter of this.#waiters) {
      if (waiter.check()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  async flush(): Promise<void> {}

  forCall(callId: string): SessionEvent[] {
    return this.events.filter((e) => e.callId === callId);
  }

  ofType<T extends SessionEvent["type"]>(type: T, callId?: string): Extract<SessionEvent, { type: T }>[] {
    return this.events.filter(
      (e): e is Extract<SessionEvent, { type: T }> => e.type === type && (callId === undefined || e.callId === callId),
    );
  }

  /** Resolves once `predicate` holds over the events published so far. */
  waitFor(predicate: (events: SessionEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`session sink: condition not met within ${timeoutMs} ms (${this.events.length} events)`));
      }, timeoutMs);
      const waiter = {
        check: () => predicate(this.events),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.add(waiter);
    });
  }
}
