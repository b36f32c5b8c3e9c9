// Delivers session events to the edge over HTTPS: POST {url}/calls/{callId}/events with a JSON body,
// signed as this node (shared/media-node-auth.ts). Events are delivered in order; a failed delivery is
// retried with backoff a few times (the edge stores each (callId, seq) once, so a retry is harmless). The
// queue is bounded, so an unreachable edge costs bounded memory, never the calls.
import { signNodeRequest } from "../../../shared/media-node-auth.ts";
import type { SessionEvent } from "../../../shared/session-events.ts";
import type { Logger } from "../server/logger.ts";
import type { SessionSink } from "./types.ts";

export interface HttpSessionSinkOptions {
  url: string;
  nodeId: string;
  /** This node's HMAC secret, shared with the edge (MEDIA_NODE_SECRET). */
  secret: string;
  fetch?: typeof fetch;
  logger: Logger;
  maxQueued?: number;
  attempts?: number;
  timeoutMs?: number;
}

export class HttpSessionSink implements SessionSink {
  readonly #queue: SessionEvent[] = [];
  #running: Promise<void> | undefined;
  dropped = 0;

  constructor(private readonly opts: HttpSessionSinkOptions) {}

  publish(event: SessionEvent): void {
    if (this.#queue.length >= (this.opts.maxQueued ?? 10_000)) {
      this.dropped += 1;
      this.opts.logger.warn("session sink queue full; event dropped", { callId: event.callId, type: event.type });
      return;
    }
    this.#queue.push(event);
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  async flush(timeoutMs = 10_000): Promise<void> {
    const running = this.#running;
    if (!running) return;
    await Promise.race([running, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  async #drain(): Promise<void> {
    const doFetch = this.opts.fetch ?? fetch;
    const attempts = this.opts.attempts ?? 4;
    while (this.#queue.length > 0) {
      const event = this.#queue.shift()!;
      const target = `${this.opts.url.replace(/\/$/, "")}/calls/${encodeURIComponent(event.callId)}/events`;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const body = JSON.stringify(event);
          const auth = await signNodeRequest({
            nodeId: this.opts.nodeId,
            secret: this.opts.secret,
            method: "POST",
            url: target,
            body,
          });
          const res = await doFetch(target, {
            method: "POST",
            headers: { "content-type": "application/json", ...auth },
            body,
            signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5_000),
          });
          if (res.ok) break;
          // A 4xx will not get better by retrying.
          if (res.status < 500 && res.status !== 429) {
            this.opts.logger.warn("session sink rejected event", { status: res.status, type: event.type });
            break;
          }
          throw new Error(`HTTP ${res.status}`);
        } catch (err) {
          if (attempt === attempts) {
            this.dropped += 1;
            this.opts.logger.error("session sink gave up on event", { type: event.type, error: String(err) });
          } else {
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          }
        }
      }
    }
  }
}

/** Used when no SESSION_SINK_URL is configured (local runs): events go to the log as JSON lines. */
export class LogSessionSink implements SessionSink {
  constructor(private readonly logger: Logger) {}
  publish(event: SessionEvent): void {
    this.logger.info("session event", { event });
  }
  async flush(): Promise<void> {}
}
