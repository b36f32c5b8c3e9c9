// Ordered, optionally delayed delivery of server messages on one WebSocket: a delayed final must not be
// overtaken by the interim or event that follows it.
import { performance } from "node:perf_hooks";
import type { WebSocket } from "ws";

interface Pending {
  due: number;
  data: string | Buffer;
}

export class Outbox {
  private readonly queue: Pending[] = [];
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;
  private drainWaiters: Array<() => void> = [];
  /** A stalled stream: messages are dropped, as a recogniser that has stopped answering never sends them. */
  muted = false;

  constructor(private readonly ws: WebSocket) {}

  push(data: string | Buffer, delayMs = 0): void {
    if (this.muted) return;
    const now = performance.now();
    const due = Math.max(now + delayMs, this.lastDue);
    this.lastDue = due;
    if (this.queue.length === 0 && due <= now) {
      this.write(data);
      return;
    }
    this.queue.push({ due, data });
    this.schedule();
  }

  /** Resolves once everything queued so far has been written (or dropped because the socket closed). */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  clear(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.notifyDrained();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    const head = this.queue[0];
    if (!head) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.due - performance.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.queue.length > 0 && (this.queue[0]?.due ?? 0) <= now + 0.5) {
      const item = this.queue.shift();
      if (item) this.write(item.data);
    }
    if (this.queue.length === 0) this.notifyDrained();
    else this.schedule();
  }

  private write(data: string | Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
