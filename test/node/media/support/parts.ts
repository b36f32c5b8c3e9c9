// Pieces for testing the voice loop's parts directly, with no socket: a link that records what would go to
// the carrier, a clock the test ticks by hand, metrics, an audio cache.

import { createMediaMetrics } from "../../../../media-nodes/src/metrics/media-metrics.ts";
import { AudioCache } from "../../../../media-nodes/src/pipeline/audio-cache.ts";
import type { CallLink } from "../../../../media-nodes/src/pipeline/call.ts";
import type { ClockClient } from "../../../../media-nodes/src/pipeline/frame-clock.ts";
import type { SendStatus } from "../../../../media-nodes/src/pipeline/pacer.ts";
import { silentLogger } from "../../../../media-nodes/src/server/logger.ts";
import type { WebNotice } from "../../../../media-nodes/src/transports/types.ts";

export type LinkRecord =
  | { type: "frame"; bytes: number; marks: string[] }
  | { type: "marks"; names: string[] }
  | { type: "clear" }
  | { type: "notice"; notice: WebNotice }
  | { type: "end"; code: number; reason: string };

export class RecordingLink implements CallLink {
  readonly sent: LinkRecord[] = [];
  closed = false;
  /** Called at the moment `clear` is sent (to check what had and had not happened yet). */
  onClear: (() => void) | undefined;

  sendFrame(frame: Uint8Array, marksAfter: readonly string[]): SendStatus {
    this.sent.push({ type: "frame", bytes: frame.length, marks: [...marksAfter] });
    return "sent";
  }
  sendMarks(names: readonly string[]): void {
    this.sent.push({ type: "marks", names: [...names] });
  }
  bufferedAmount(): number {
    return 0;
  }
  sendClear(): void {
    this.onClear?.();
    this.sent.push({ type: "clear" });
  }
  sendNotice(notice: WebNotice): void {
    this.sent.push({ type: "notice", notice });
  }
  end(code: number, reason: string): void {
    this.closed = true;
    this.sent.push({ type: "end", code, reason });
  }

  marks(): string[] {
    return this.sent.flatMap((r) => (r.type === "frame" ? r.marks : r.type === "marks" ? r.names : []));
  }
  frames(): number {
    return this.sent.filter((r) => r.type === "frame").length;
  }
}

/**
 * The node's clock, ticked by the test: `tick(n)` runs n frames of every client. Time is the test's own (20 ms a
 * tick) unless `now` is given (then each tick is stamped with it, for parts that also read performance.now()).
 */
export class ManualClock {
  readonly clients = new Set<ClockClient>();
  t = 0;
  constructor(private readonly now?: () => number) {}
  add(client: ClockClient): void {
    this.clients.add(client);
  }
  remove(client: ClockClient): void {
    this.clients.delete(client);
  }
  runDue(): void {}
  tick(frames = 1): void {
    for (let i = 0; i < frames; i++) {
      this.t = this.now ? this.now() : this.t + 20;
      for (const c of this.clients) c.onTick(this.t, this.t);
    }
  }
}

export function partsEnv() {
  const metrics = createMediaMetrics({ activeCalls: () => 0 });
  return { metrics, audioCache: new AudioCache(silentLogger), logger: silentLogger, close: () => metrics.close() };
}

export async function until(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
