// One clock for every call on the node. Outbound audio must leave in exact 20 ms frames; a timer per
// call would mean hundreds of timers drifting independently. Instead one timer ticks every `slotMs`
// against a monotonic clock (tick n is due at t0 + n·slotMs, so errors never accumulate), and each call
// sits in one of the 20 ms / slotMs slots, the least loaded when it joined, so the per-tick work is
// spread over the frame period instead of landing on one instant.
import { performance } from "node:perf_hooks";

export interface ClockClient {
  /** Called once per 20 ms; `dueAt` is this frame's scheduled time (performance.now() clock). */
  onTick(dueAt: number, now: number): void;
}

export interface FrameClockOptions {
  frameMs?: number;
  slotMs?: number;
  now?: () => number;
  /** Reports a client whose onTick threw; the clock goes on with the others. */
  onError?: (client: ClockClient, error: unknown) => void;
}

export class FrameClock {
  readonly frameMs: number;
  readonly slotMs: number;
  readonly #now: () => number;
  readonly #slots: Set<ClockClient>[];
  readonly #slotOf = new Map<ClockClient, number>();
  readonly #onError: ((client: ClockClient, error: unknown) => void) | undefined;
  #t0 = 0;
  #tick = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Ticks processed later than their due time by more than one slot (event-loop stalls). */
  stalls = 0;

  constructor(opts: FrameClockOptions = {}) {
    this.frameMs = opts.frameMs ?? 20;
    this.slotMs = opts.slotMs ?? 2;
    if (this.frameMs % this.slotMs !== 0) throw new Error("frameMs must be a multiple of slotMs");
    this.#now = opts.now ?? (() => performance.now());
    this.#slots = Array.from({ length: this.frameMs / this.slotMs }, () => new Set<ClockClient>());
    this.#onError = opts.onError;
  }

  get size(): number {
    return this.#slotOf.size;
  }

  add(client: ClockClient): void {
    if (this.#slotOf.has(client)) return;
    let best = 0;
    for (let i = 1; i < this.#slots.length; i++) if (this.#slots[i]!.size < this.#slots[best]!.size) best = i;
    this.#slots[best]!.add(client);
    this.#slotOf.set(client, best);
    if (!this.#timer) this.#start();
  }

  remove(client: ClockClient): void {
    const slot = this.#slotOf.get(client);
    if (slot === undefined) return;
    this.#slots[slot]!.delete(client);
    this.#slotOf.delete(client);
    if (this.#slotOf.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #start(): void {
    this.#t0 = this.#now();
    this.#tick = 0;
    this.#schedule();
  }

  #schedule(): void {
    const due = this.#t0 + this.#tick * this.slotMs;
    const delay = Math.max(0, due - this.#now());
    // Timers fire at whole milliseconds and never early; flooring keeps the wake-up at or before due.
    this.#timer = setTimeout(this.#run, Math.floor(delay));
    this.#timer.unref();
  }

  /**
   * Runs whatever ticks are due now, without waiting for the timer. The timer only fires between
   * event-loop phases, so a burst of inbound messages handled in one poll phase (hundreds of calls'
   * frames arriving together) would hold every outbound frame back until the burst is done. Handlers
   * on hot paths call this once per message: a clock read when nothing is due, and frames leave on
   * time in the middle of the burst.
   */
  runDue(): void {
    if (this.#running || this.#slotOf.size === 0) return;
    if (this.#t0 + this.#tick * this.slotMs > this.#now()) return;
    this.#catchUp();
  }

  readonly #run = (): void => {
    this.#timer = undefined;
    if (!this.#running) this.#catchUp();
    if (this.#slotOf.size > 0 && !this.#timer) this.#schedule();
  };

  #catchUp(): void {
    this.#running = true;
    const slots = this.#slots;
    let now = this.#now();
    try {
      // Catch up on every tick that is due, each with its own due time: a stall delays frames, it does
      // not drop them or shift the schedule.
      for (;;) {
        const due = this.#t0 + this.#tick * this.slotMs;
        if (due > now) break;
        if (now - due > this.slotMs) this.stalls += 1;
        const slot = slots[this.#tick % slots.length]!;
        for (const client of slot) {
          try {
            client.onTick(due, now);
          } catch (error) {
            this.#onError?.(client, error);
          }
        }
        this.#tick += 1;
        now = this.#now();
      }
    } finally {
      this.#running = false;
    }
  }
}
